"""Model files that cannot be used, in the app: a damaged remembered model falls back to the shipped one, and a bad
file picked by the user leaves the model in use; one clear line each, nothing modal, the app goes on."""

import pytest
from PySide6.QtCore import QSettings

from musicspeech.gui.app import create_window

from .test_gui import drop


def open_window(qtbot, settings):
    w = create_window(settings=settings)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.model.classifier is not None, timeout=60_000)
    return w


def test_a_damaged_remembered_model_falls_back_to_the_shipped_one(qtbot, tmp_path, trained, speech_clip):
    _, good = trained
    damaged = tmp_path / "mine.msmodel"
    damaged.write_bytes(good.read_bytes()[:5000])  # a save cut short by something other than this app
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue("model/path", str(damaged))
    window = open_window(qtbot, settings)
    assert window.model.path.name == "musicspeech.msmodel"  # the shipped model
    assert "musicspeech.msmodel" in window.model_label.text()
    message = window.model_message.text()
    assert (
        damaged.name in message
        and "damaged" in message
        and "using musicspeech.msmodel instead" in message
        and "\n" not in message
    )
    assert not window.model_message.isModal()
    drop(window, [speech_clip])
    qtbot.waitUntil(lambda: speech_clip in window.classify_tab.results, timeout=60_000)
    assert window.classify_tab.results[speech_clip].prediction.label == "speech"


@pytest.mark.parametrize(
    ("name", "make", "says"),
    [
        ("truncated.msmodel", lambda good: good[: len(good) // 2], "damaged"),
        ("text.msmodel", lambda good: b"this is not a model\n" * 100, "not a musicspeech model"),
        ("empty.msmodel", lambda good: b"", "not a musicspeech model"),
    ],
)
def test_a_bad_model_file_picked_by_the_user_leaves_the_model_in_use(qtbot, tmp_path, trained, name, make, says):
    _, good = trained
    window = open_window(qtbot, QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    before = window.model.classifier, window.model.path, window.model_label.text()
    bad = tmp_path / name
    bad.write_bytes(make(good.read_bytes()))
    window.model.load(bad)
    qtbot.waitUntil(lambda: window.model_message is not None, timeout=60_000)
    assert says in window.model_message.text() and "\n" not in window.model_message.text()
    assert (window.model.classifier, window.model.path, window.model_label.text()) == before
    assert says in window.statusBar().currentMessage()
    assert window.settings.value("model/path") in (None, "", str(before[1]))  # the bad file is not remembered
