"""Saving from the app's real widgets when it fails for real (a read-only folder, a full disk: `faulty_folders`):
the tab says it in one line naming the file and the cause, the previous file is left byte for byte, no dialog
comes up and the app goes on."""

import dataclasses

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from musicspeech.core.atomic import write_bytes
from musicspeech.core.audio import Waveform, write_wav
from musicspeech.core.model import ModelBundle
from musicspeech.gui.app import create_window
from musicspeech.gui.tasks import finish_saves


@pytest.fixture
def window(qtbot, tmp_path, virtual_audio):  # the sound server first: PortAudio scans devices when it loads
    w = create_window(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.model.classifier is not None, timeout=60_000)
    return w


@pytest.fixture(scope="module")
def take(music_clip):
    x, rate = sf.read(music_clip, dtype="float32", frames=10 * 22050)
    return Waveform(x, rate, "recording")


def finished(qtbot, task):
    qtbot.waitUntil(lambda: not task.running, timeout=60_000)


def said(window):
    """The status line, and no dialog anywhere (an unexpected error would bring one)."""
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert dialogs == []
    return window.statusBar().currentMessage()


def test_a_trained_model_saved_into_a_read_only_folder_says_so_and_can_be_saved_elsewhere(
    window, qtbot, trained, read_only_folder, tmp_path
):
    tab = window.train_tab
    tab._finished(dataclasses.replace(trained[0], bundle=ModelBundle.load(trained[1])))  # as a run ends
    assert tab.save_button.isEnabled()
    target = read_only_folder.path / "mine.msmodel"
    before = write_bytes(target, trained[1].read_bytes()).read_bytes()
    read_only_folder.freeze()
    active = window.model.classifier
    finished(qtbot, tab.save(target))
    assert said(window) == f"cannot save {target}: {read_only_folder.problem}"
    assert target.read_bytes() == before and window.model.classifier is active
    assert tab.save_button.isEnabled() and window.isVisible()
    elsewhere = tmp_path / "elsewhere.msmodel"  # the trained model was not lost
    finished(qtbot, tab.save(elsewhere))
    assert said(window) == "saved elsewhere.msmodel; it is the active model now"
    assert "elsewhere.msmodel" in window.model_label.text() and ModelBundle.load(elsewhere).labels


def test_classify_exports_onto_a_full_disk_or_into_a_read_only_folder_say_so(
    window, qtbot, music_clip, speech_clip, small_disk, read_only_folder
):
    tab = window.classify_tab
    tab.add_paths([music_clip, speech_clip])
    qtbot.waitUntil(lambda: len(tab.results) == 2 and not tab.task.running, timeout=60_000)  # "classified 2 files"
    target = small_disk.path / "results.json"
    finished(qtbot, tab.export(target, "JSON with segments (*.json)"))
    assert said(window) == f"exported 2 result(s) to {target}"
    before = target.read_bytes()
    small_disk.fill()
    finished(qtbot, tab.export(target, "JSON with segments (*.json)"))
    assert said(window) == f"cannot save {target}: the disk is full"
    assert target.read_bytes() == before and small_disk.files() == ["results.json"]

    labels = read_only_folder.path / "labels.txt"
    finished(qtbot, tab.export(labels, "Audacity labels, one file per audio file (*.txt)"))
    before = (read_only_folder.path / "labels-blues.txt").read_bytes()
    read_only_folder.freeze()
    finished(qtbot, tab.export(labels, "Audacity labels, one file per audio file (*.txt)"))
    assert said(window) == f"cannot save {read_only_folder.path / 'labels-blues.txt'}: {read_only_folder.problem}"
    assert (read_only_folder.path / "labels-blues.txt").read_bytes() == before


def test_a_recording_saved_into_a_read_only_folder_or_onto_a_full_disk_says_so(
    window, qtbot, take, read_only_folder, small_disk
):
    inspect = window.inspect_tab
    window.tabs.setCurrentWidget(inspect)
    inspect.show_recording(take)  # as Stop recording shows a take
    qtbot.waitUntil(lambda: inspect.current is not None and inspect.current.prediction is not None, timeout=30_000)
    assert inspect.save_button.isEnabled()
    for folder, problem in ((read_only_folder, read_only_folder.problem), (small_disk, "the disk is full")):
        target = folder.path / "take.wav"
        before = write_wav(target, Waveform(take.samples[: take.rate_hz], take.rate_hz)).read_bytes()
        if folder is read_only_folder:
            folder.freeze()
        else:
            folder.fill(leave=16 * 1024)  # the take (440 kB) fails midway
        finished(qtbot, inspect.save_recording(target))
        assert said(window) == f"cannot save {target}: {problem}"
        assert target.read_bytes() == before
        assert [p.name for p in folder.path.iterdir() if p.name != ".filler"] == ["take.wav"]
    assert inspect.save_button.isEnabled() and inspect.take is take


def test_live_saves_and_the_segment_log_in_a_read_only_folder_say_so_and_listening_goes_on(
    window, qtbot, read_only_folder
):
    live = window.live_tab
    window.tabs.setCurrentWidget(live)
    folder = read_only_folder.path
    last = write_wav(folder / "last.wav", Waveform(np.zeros(16000, np.float32), 16000))
    before = last.read_bytes()
    (folder / "training" / "music").mkdir(parents=True)
    read_only_folder.freeze()
    live.keep_box.setValue(2)
    live.start_button.click()
    qtbot.waitUntil(lambda: live.session is not None, timeout=60_000)

    finished(qtbot, live.save_last(last))
    assert live.problem.text() == said(window) == f"cannot save {last}: {read_only_folder.problem}"
    assert last.read_bytes() == before

    live.set_training_folder(str(folder / "training"))
    qtbot.waitUntil(lambda: len(live.last_audio().samples) > 8000, timeout=10_000)
    assert live.add_to_folder("music") is None  # the device is silent: the tab asks first
    assert "nearly silent" in live.add_warning.text()
    next(b for b in live.add_warning.buttons() if b.text() == "Add anyway").click()
    finished(qtbot, live.add_task)
    assert said(window).startswith(f"cannot save {folder / 'training' / 'music' / 'live-'}")
    assert live.problem.text().endswith(f".wav: {read_only_folder.problem}")
    assert list((folder / "training" / "music").iterdir()) == []

    live.log_path = str(folder / "segments.csv")
    live.log_box.setChecked(True)
    assert said(window) == f"segments are not logged: cannot save {folder / 'segments.csv'}: {read_only_folder.problem}"
    assert not live.log_box.isChecked() and live.session is not None and live.session.running
    live.start_button.click()  # stop
    qtbot.waitUntil(lambda: live.task is not None and not live.task.running, timeout=10_000)
    assert sorted(p.name for p in folder.iterdir()) == ["last.wav", "training"]


def test_settings_that_cannot_be_saved_are_said_at_start_and_left_as_they_were(
    qtbot, virtual_audio, read_only_folder, caplog
):
    path = read_only_folder.path / "settings.ini"
    settings = QSettings(str(path), QSettings.IniFormat)
    settings.setValue("live/keep_n_s", 7)
    settings.sync()
    before = path.read_bytes()
    read_only_folder.freeze()
    w = create_window(settings=settings)
    qtbot.addWidget(w)
    assert said(w) == f"settings will not be kept: cannot save {path}: {read_only_folder.problem}"
    assert w.live_tab.keep_box.value() == 7  # read all the same
    qtbot.waitUntil(lambda: w.model.classifier is not None, timeout=60_000)
    w.close()  # the window's geometry is a change to save
    assert f"settings not saved: cannot save {path}: {read_only_folder.problem}" in caplog.text
    assert path.read_bytes() == before


def test_quitting_right_after_save_waits_for_the_file(window, tmp_path):
    inspect = window.inspect_tab
    inspect.take = Waveform(np.zeros(48000 * 600, np.float32), 48000)  # a 10-minute take: 57.6 MB to write
    target = tmp_path / "long.wav"
    inspect.save_recording(target)
    assert finish_saves()  # what the app does when its window has closed, before it leaves
    assert sf.info(target).frames == 48000 * 600


def test_a_log_folder_that_cannot_be_written_does_not_stop_the_app(qtbot, read_only_folder, caplog):
    import logging

    from musicspeech.gui.crash_handler import CrashHandler, setup_logging

    read_only_folder.freeze()
    root = logging.getLogger()
    kept = list(root.handlers)
    try:
        assert setup_logging(read_only_folder.path / "logs") is None  # before: the app did not start
        log = read_only_folder.path / "logs" / "musicspeech.log"
        assert f"no log file: cannot save {log}: {read_only_folder.problem}" in caplog.text
        handler = CrashHandler(None)
        try:
            raise ValueError("a bug in a slot")
        except ValueError as e:
            handler.handle(type(e), e, e.__traceback__)
        qtbot.waitUntil(lambda: handler.box is not None and handler.box.isVisible(), timeout=5_000)
        assert "a bug in a slot" in handler.box.text() and "no log file" in handler.box.text()
        handler.box.close()
    finally:
        for h in [h for h in root.handlers if h not in kept]:
            root.removeHandler(h)
