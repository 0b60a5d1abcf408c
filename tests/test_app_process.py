"""The real app in a process of its own (`gui.app.main`, Qt offscreen), driven through its widgets: it quits with
status 0 through File > Quit, and a training run from the Train tab leaves TensorFlow out of the app's process
(training runs in a child: `musicspeech.core.training_process`)."""

import json
import os
import re
import subprocess
import sys

import pytest

from .conftest import REPO, SUBSET_MUSIC, SUBSET_SPEECH, link_subset
from .test_training_process import gone

SAMPLES = REPO / "resources" / "samples"

# Started as `musicspeech FILE` starts it (gui.app.main); `drive` runs on the GUI thread once the loop runs, does
# what the test asks (argv[1]), says what it saw on stdout as JSON lines, then quits through the File menu.
DRIVER = """
import json, sys, time
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from musicspeech.gui.app import main
from musicspeech.gui.main_window import MainWindow

app = QApplication([sys.argv[0]])
job, args = sys.argv[1], sys.argv[2:]

def say(**values):
    print(json.dumps(values), flush=True)

def when(condition, then, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    def check():
        if condition():
            then()
        elif time.monotonic() > deadline:
            say(timeout=then.__name__)
            quit_through_the_menu()
        else:
            QTimer.singleShot(50, check)
    check()

def window():
    return next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))

def quit_through_the_menu():
    file_menu = window().menuBar().actions()[0].menu()
    next(a for a in file_menu.actions() if a.text() == "&Quit").trigger()

def loaded():
    return {m: m in sys.modules for m in ("tensorflow", "keras")}

def open_a_file():
    inspect = window().inspect_tab
    when(lambda: inspect.current is not None and inspect.current.prediction is not None, classify)

def classify():
    w = window()
    say(inspected=w.inspect_tab.verdict.text())
    w.classify_tab.add_paths([Path(args[1])])
    when(lambda: len(w.classify_tab.results) == 1, finish)

def finish():
    say(classified=len(window().classify_tab.results), loaded=loaded())
    quit_through_the_menu()

def train():
    w = window()
    tab = w.train_tab
    tab.set_source(args[0])
    tab.recipe.setCurrentText("baseline")
    tab.epochs.setValue(1)
    tab.start_button.click()
    when(lambda: tab.start_button.isEnabled(), lambda: trained(w, tab))

def trained(w, tab):
    say(
        evaluation=tab.evaluation_label.text(),
        batches=len(tab.points["loss"][0]),
        epochs=len(tab.points["val_accuracy"][0]),
        confusion=tab.confusion.rowCount(),
        progress=tab.progress.format(),
        loaded=loaded(),
    )
    w.model.changed.connect(lambda description: saved(description))
    tab.save(Path(args[1]))

def saved(description):
    say(active=description, loaded=loaded())
    quit_through_the_menu()

def busy():
    # everything at once: a training run, listening, playing, classifying a folder; quit in the middle
    w = window()
    tab = w.train_tab
    tab.set_source(args[0])
    tab.recipe.setCurrentText("baseline")
    tab.epochs.setValue(100)
    tab.start_button.click()
    w.live_tab.start()
    w.classify_tab.add_paths([Path(args[1])])
    w.open_in_inspect(Path(args[2]))
    inspect = w.inspect_tab
    when(lambda: inspect.player is not None and w.live_tab.session is not None, inspect.toggle_play)
    started = lambda: tab.progress.format().split(" ")[0] in ("loading", "features", "training")  # the child's
    when(lambda: started() and inspect.player is not None and inspect.player.playing, lambda: quit_busy(w))

def quit_busy(w):
    from musicspeech.core.training_process import _children

    say(
        training=[child.pid for child in _children],
        listening=w.live_tab.session is not None,
        playing=w.inspect_tab.player.playing,
        classifying=w.classify_tab.task.running,
        loaded=loaded(),
    )
    quit_through_the_menu()

def drive():
    w = window()
    when(lambda: w.model.classifier is not None and w.train_tab.__class__.__name__ == "TrainTab",
         {"open": open_a_file, "train": train, "busy": busy}[job])

QTimer.singleShot(0, drive)
sys.exit(main(args[:1] if job == "open" else []))  # returns when the window has closed
"""

# What must never appear on the app's stderr: a traceback, a crash or abort, Qt objects or threads torn down wrongly.
ALARMING = re.compile(
    r"Traceback|Fatal Python error|Segmentation fault|Aborted|dealloc|core dumped|QThread: Destroyed|"
    r"QObject::~QObject|Timers cannot be stopped|leaked semaphore|resource_tracker|Error|Exception",
    re.IGNORECASE,
)


def run_app(tmp_path, *args, timeout=300):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(REPO),
        **{k: str(tmp_path / k.lower()) for k in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")},
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, *map(str, args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    said = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            said.update(json.loads(line))
    return proc, said


def test_the_app_opens_a_file_classifies_another_and_quits_through_the_menu_with_status_0(tmp_path):
    speech, music = sorted((SAMPLES / "speech").glob("*.ogg"))[0], sorted((SAMPLES / "music").glob("*.ogg"))[0]
    proc, said = run_app(tmp_path, "open", speech, music)
    assert "timeout" not in said, (said, proc.stderr)
    assert said["inspected"].startswith("speech") and said["classified"] == 1
    assert said["loaded"] == {"tensorflow": False, "keras": False}
    assert proc.returncode == 0, proc.stderr
    assert not ALARMING.search(proc.stderr), proc.stderr


@pytest.mark.slow
def test_a_training_run_from_the_train_tab_never_loads_tensorflow_in_the_app(tmp_path, gtzan_dir):
    data = link_subset(tmp_path / "data", SUBSET_MUSIC[:6], SUBSET_SPEECH[:6])  # a few clips
    model = tmp_path / "mine.msmodel"
    proc, said = run_app(tmp_path, "train", data, model)
    assert "timeout" not in said, (said, proc.stderr)
    assert said["evaluation"].startswith("1 epochs"), said  # finished: "1 epochs, N s. Held-out clips: ..."
    assert said["batches"] >= 1 and said["epochs"] == 1 and said["confusion"] == 2 and said["progress"] == "done"
    assert "mine.msmodel" in said["active"] and model.is_file()  # saved, and made the active model
    assert said["loaded"] == {"tensorflow": False, "keras": False}  # through the run and the save
    assert proc.returncode == 0, proc.stderr
    assert not ALARMING.search(proc.stderr), proc.stderr


def test_quitting_in_the_middle_of_everything_ends_the_training_process_and_exits_with_status_0(
    tmp_path, gtzan_dir, virtual_audio
):
    data = link_subset(tmp_path / "data", SUBSET_MUSIC[:6], SUBSET_SPEECH[:6])
    clip = data / "music" / f"{SUBSET_MUSIC[0]}.wav"
    proc, said = run_app(tmp_path, "busy", data, gtzan_dir / "music_speech", clip)  # 128 clips to classify
    assert "timeout" not in said, (said, proc.stderr)
    assert said["listening"] and said["playing"] and said["classifying"], said  # all under way at Quit
    assert len(said["training"]) == 1 and said["loaded"] == {"tensorflow": False, "keras": False}
    assert proc.returncode == 0, proc.stderr
    assert not ALARMING.search(proc.stderr), proc.stderr
    assert gone(said["training"][0])  # the training process was ended with the app
