"""Training that is cancelled at any moment, or fails inside a run, leaves the app usable and the active model as it
was: the real Train tab, the real trainer, real GTZAN clips."""

import shutil

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.conftest import link_subset
from tests.test_gui import drop

pytestmark = pytest.mark.slow


@pytest.fixture
def window(qtbot, tmp_path):
    from musicspeech.gui.app import create_window

    w = create_window(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.model.classifier is not None, timeout=60_000)
    return w


def active(window):
    return window.model.classifier, window.model.path, window.model_label.text()


def classify_one(window, qtbot, clip):
    """The active model still works: drop a clip on the window, wait for its verdict."""
    results = window.classify_tab.results
    drop(window, [clip])
    qtbot.waitUntil(lambda: clip in results, timeout=60_000)
    return results[clip].prediction.label


def run_and_cancel(tab, qtbot, when):
    """Start a run and press Cancel as soon as `when()` holds (checked at every event the run sends)."""
    tab.start_button.click()
    assert not tab.start_button.isEnabled()
    qtbot.waitUntil(lambda: when() or not tab.task.running, timeout=180_000)
    tab.cancel_button.click()
    qtbot.waitUntil(lambda: tab.start_button.isEnabled(), timeout=120_000)


def test_cancel_at_any_moment_or_a_failure_inside_a_run_keeps_the_app_usable_and_the_model(
    window, qtbot, tmp_path, speech_clip, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no features cached by earlier tests: every stage
    tab = window.train_tab
    before = active(window)
    data = link_subset(tmp_path / "data")
    tab.set_source(data)
    tab.recipe.setCurrentText("baseline")
    tab.epochs.setValue(20)

    stages = []
    tab.progress.valueChanged.connect(lambda _: stages.append(tab.progress.format().split(" ")[0]))
    moments = {
        "at once": lambda: True,
        "while the clips load": lambda: "loading" in stages,
        "while the features are computed": lambda: "features" in stages,
        "in the first epoch": lambda: "training" in stages,
        "after an epoch": lambda: len(tab.points["val_loss"][0]) >= 1,
    }
    for moment, when in moments.items():
        stages.clear()
        tab.result = None
        run_and_cancel(tab, qtbot, when)
        assert active(window) == before, moment  # nothing was made the active model
        assert not tab.cancel_button.isEnabled() and tab.recipe.isEnabled(), moment
        if tab.result is not None:  # cancelled after an epoch: the best weights so far, offered, not used
            assert tab.result.cancelled and tab.save_button.isEnabled(), moment
        else:
            assert "no model" in tab.evaluation_label.text() or "cancelled" in tab.evaluation_label.text(), moment
    assert tab.result is not None and tab.result.epochs_run >= 1  # the last moment came after an epoch

    # A failure inside a run: the data go away (a drive unplugged) just after it starts.
    tab.set_source(data)
    tab.start_button.click()
    shutil.rmtree(data)
    qtbot.waitUntil(lambda: tab.start_button.isEnabled(), timeout=120_000)
    assert "Training stopped" in tab.evaluation_label.text() and "unchanged" in tab.evaluation_label.text()
    assert "\n" not in tab.evaluation_label.text()
    assert active(window) == before
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]

    # And the app goes on: the active model classifies, and another run trains to the end.
    assert classify_one(window, qtbot, speech_clip) == "speech"
    tab.set_source(link_subset(tmp_path / "again"))
    tab.epochs.setValue(1)
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.start_button.isEnabled(), timeout=180_000)
    assert tab.result is not None and not tab.result.cancelled and tab.result.epochs_run == 1
    assert active(window) == before  # a finished run is not used until it is saved
