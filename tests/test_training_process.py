"""Training in a child process (`core.training_process`): errors come back in one line, a cancel stops the child,
a child that dies is said in one line (in the Train tab too, and the app goes on), and a child whose parent dies
ends. Real processes, real GTZAN clips; each run is stopped before TensorFlow would load, so these are quick."""

import os
import signal
import subprocess
import sys
import time

import pytest

from musicspeech.core.errors import Cancelled
from musicspeech.core.recipes import recipe_settings
from musicspeech.core.training import TrainingListener
from musicspeech.core.training_process import TrainingError, _children, train_in_child

from .conftest import REPO, link_subset
from .test_gui import drop

SETTINGS = recipe_settings("baseline", epochs=1)


class OnFirstStage(TrainingListener):
    """Does `act(child)` at the first progress the child sends (it is reading the clips then)."""

    def __init__(self, act):
        self.act, self.stages = act, []

    def stage(self, name, done, total):
        self.stages.append(name)
        if len(self.stages) == 1:
            (child,) = _children
            self.act(child)


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"  # a zombie: ended, not yet reaped
    except FileNotFoundError:
        return True


def test_data_that_cannot_be_read_comes_back_from_the_child_in_one_line(tmp_path):
    with pytest.raises(TrainingError) as error:
        train_in_child(str(tmp_path / "nowhere"), SETTINGS)
    assert str(error.value) == f"{tmp_path / 'nowhere'}: no such file or folder"
    assert not _children


def test_a_killed_training_process_is_said_in_one_line(tmp_path, gtzan_dir):
    data = link_subset(tmp_path / "data")
    with pytest.raises(TrainingError) as error:
        train_in_child(str(data), SETTINGS, OnFirstStage(lambda child: os.kill(child.pid, signal.SIGKILL)))
    assert str(error.value) == "the training process ended unexpectedly: it was killed (SIGKILL, out of memory?)"
    assert not _children


def test_cancel_stops_the_training_process(tmp_path, gtzan_dir):
    data = link_subset(tmp_path / "data")
    seen = []
    listener = OnFirstStage(seen.append)
    with pytest.raises(Cancelled):
        train_in_child(str(data), SETTINGS, listener, cancel=lambda: bool(seen))
    assert seen[0].exitcode == 0 and not _children  # it stopped itself (at the next clip it reads, or later under load)
    assert "training" not in listener.stages  # long before the network (how many clips it read first: the load's)


PARENT = """
import sys, time
from musicspeech.core.recipes import recipe_settings
from musicspeech.core.training import TrainingListener
from musicspeech.core.training_process import _children, train_in_child

class Say(TrainingListener):
    def stage(self, name, done, total):
        print(next(iter(_children)).pid, flush=True)
        time.sleep(3600)  # the parent is killed meanwhile

if __name__ == "__main__":
    train_in_child(sys.argv[1], recipe_settings("baseline", epochs=1), Say())
"""


def test_the_training_process_ends_when_the_app_is_killed(tmp_path, gtzan_dir):
    data = link_subset(tmp_path / "data")
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen([sys.executable, str(script), str(data)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        child_pid = int(parent.stdout.readline())
        assert not gone(child_pid)
        parent.kill()
        parent.wait(30)
        deadline = time.monotonic() + 30
        while not gone(child_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(child_pid)
    finally:
        parent.kill()
        parent.wait(30)


def test_a_training_process_killed_under_the_train_tab_is_one_line_and_the_app_goes_on(
    window, qtbot, tmp_path, gtzan_dir, speech_clip
):
    tab = window.train_tab
    tab.set_source(link_subset(tmp_path / "data"))
    before = window.model.classifier
    killed = []
    tab.progress.valueChanged.connect(
        lambda _: killed or (_children and killed.append(os.kill(next(iter(_children)).pid, signal.SIGKILL)))
    )
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.start_button.isEnabled(), timeout=120_000)
    assert killed
    assert tab.evaluation_label.text() == (
        "Training stopped: the training process ended unexpectedly: it was killed (SIGKILL, out of memory?). "
        "The active model is unchanged."
    )
    assert tab.progress.format() == "stopped" and window.model.classifier is before
    drop(window, [speech_clip])  # the app goes on: the active model classifies
    qtbot.waitUntil(lambda: speech_clip in window.classify_tab.results, timeout=60_000)
    assert window.classify_tab.results[speech_clip].prediction.label == "speech"
