"""Files handed to the app by the command line or the desktop, through the real widgets (pytest-qt, offscreen):
the first file opens in Inspect; with several paths, or folders, all of them are listed in Classify too."""

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from musicspeech.gui.app import FileOpenEvents, create_window
from musicspeech.gui.classify_tab import FILE, VERDICT

from .conftest import REPO

SAMPLES = REPO / "resources" / "samples"
MUSIC = sorted((SAMPLES / "music").glob("*.ogg"))
SPEECH = sorted((SAMPLES / "speech").glob("*.ogg"))


@pytest.fixture
def open_window(qtbot, tmp_path):
    """Opens the window as the command line does, with `paths`; waits for the model."""

    def make(paths):
        window = create_window([str(p) for p in paths], QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: window.model.classifier is not None, timeout=60_000)
        return window

    return make


def listed(window) -> list[Path]:
    return sorted(Path(p) for p in window.classify_tab.rows)


def wait_for_inspection(qtbot, window, path: Path) -> None:
    inspect = window.inspect_tab
    qtbot.waitUntil(lambda: inspect.current is not None and inspect.current.prediction is not None, timeout=60_000)
    assert inspect.path == path
    assert inspect.verdict.text().startswith(path.parent.name)  # the sample's folder is its class


def test_one_file_opens_in_inspect_only(open_window, qtbot):
    window = open_window([SPEECH[0]])
    assert window.tabs.currentWidget() is window.inspect_tab
    wait_for_inspection(qtbot, window, SPEECH[0])
    assert window.classify_tab.table.rowCount() == 0


def test_several_files_open_the_first_in_inspect_and_all_in_classify(open_window, qtbot):
    window = open_window([MUSIC[0], SPEECH[0], SPEECH[1]])
    assert window.tabs.currentWidget() is window.inspect_tab
    wait_for_inspection(qtbot, window, MUSIC[0])
    assert listed(window) == sorted([MUSIC[0], SPEECH[0], SPEECH[1]])
    qtbot.waitUntil(lambda: len(window.classify_tab.results) == 3, timeout=60_000)
    verdicts = {
        window.classify_tab.table.item(r, FILE).text(): window.classify_tab.table.item(r, VERDICT).text()
        for r in range(3)
    }
    assert verdicts == {MUSIC[0].name: "music", SPEECH[0].name: "speech", SPEECH[1].name: "speech"}


def test_a_folder_goes_to_classify(open_window, qtbot):
    window = open_window([SAMPLES / "music"])
    assert window.tabs.currentWidget() is window.classify_tab
    assert listed(window) == MUSIC
    assert window.inspect_tab.path is None


def test_files_the_desktop_sends_as_events_open_like_arguments(open_window, qtbot):
    """macOS hands files dropped on the app's icon to the running app as FileOpen events, one per file."""
    window = open_window([])
    app = QApplication.instance()
    app.installEventFilter(FileOpenEvents(window))
    for path in (SPEECH[1], MUSIC[1]):
        QApplication.sendEvent(app, QFileOpenEvent(str(path)))
    qtbot.waitUntil(lambda: window.inspect_tab.path is not None, timeout=10_000)
    wait_for_inspection(qtbot, window, SPEECH[1])
    assert listed(window) == sorted([SPEECH[1], MUSIC[1]])


@pytest.fixture
def window_without_model(qtbot, tmp_path):
    """The real window with no model yet: the test says when the shipped model loads (`model.load`)."""
    from musicspeech.gui.active_model import ActiveModel
    from musicspeech.gui.main_window import MainWindow

    model = ActiveModel()
    window = MainWindow(model, QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    model.setParent(window)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def held_decoding(monkeypatch):
    """Inspect's decoding of a file, held at its start until the test lets it go on (`.release()`); `.started`
    is set when the real decoding is about to begin. Orders the model's arrival against it, with no sleeps."""
    import threading

    import musicspeech.core.inspection

    real = musicspeech.core.inspection.load_audio

    class Gate:
        started = threading.Event()
        go = threading.Event()
        decoded: list = []  # the files Inspect decoded, once each

        def release(self):
            self.go.set()

    gate = Gate()

    def held(path, *args, **kwargs):
        gate.decoded.append(path)
        gate.started.set()
        gate.go.wait(60)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(musicspeech.core.inspection, "load_audio", held)
    yield gate
    gate.release()


def load_shipped_model(qtbot, window) -> None:
    from musicspeech.core.paths import shipped_model_path

    window.model.load(shipped_model_path())
    qtbot.waitUntil(lambda: window.model.classifier is not None, timeout=60_000)


def test_files_opened_before_the_model_loads_get_its_verdict_when_it_arrives(window_without_model, qtbot):
    window = window_without_model
    window.open_files([SPEECH[0], MUSIC[0]])
    inspect = window.inspect_tab
    qtbot.waitUntil(lambda: inspect.current is not None, timeout=60_000)  # read and drawn, no model yet
    assert inspect.current.prediction is None and inspect.verdict.text().endswith("waiting for the model…")
    waveform = inspect.current.waveform
    load_shipped_model(qtbot, window)
    wait_for_inspection(qtbot, window, SPEECH[0])
    assert inspect.current.waveform is waveform  # classified as it was read: the file is not read again


def test_files_opened_while_the_model_loads_get_its_verdict(window_without_model, qtbot, held_decoding):
    """The race the command line met: the model arrives while the first file is still being decoded."""
    window = window_without_model
    window.open_files([MUSIC[0], SPEECH[0], SPEECH[1]])
    assert held_decoding.started.wait(30)  # the file is being decoded now, with no model yet
    load_shipped_model(qtbot, window)
    assert window.inspect_tab.current is None  # still decoding when the model arrived
    held_decoding.release()
    wait_for_inspection(qtbot, window, MUSIC[0])
    assert held_decoding.decoded == [MUSIC[0]]  # decoded once, for the picture, the sound and the model


@pytest.mark.parametrize("when", ["before", "during", "after"])
def test_each_file_opened_before_during_or_after_the_model_loads_shows_a_verdict(
    window_without_model, qtbot, held_decoding, when
):
    """The open-files race, in all three orders, then a second file once the model is there: Inspect never stays
    at "waiting for the model…", and each file is decoded once."""
    window, inspect = window_without_model, window_without_model.inspect_tab
    if when == "after":
        load_shipped_model(qtbot, window)
    window.open_files([SPEECH[0], MUSIC[0]])
    assert held_decoding.started.wait(30)
    if when == "during":
        load_shipped_model(qtbot, window)
    held_decoding.release()
    if when == "before":
        qtbot.waitUntil(lambda: inspect.current is not None, timeout=60_000)
        assert inspect.verdict.text() == "waiting for the model…"
        load_shipped_model(qtbot, window)
    wait_for_inspection(qtbot, window, SPEECH[0])
    window.open_files([SPEECH[1]])  # and the next file, with the model in place
    qtbot.waitUntil(lambda: inspect.current.waveform.source == str(SPEECH[1]), timeout=60_000)
    wait_for_inspection(qtbot, window, SPEECH[1])
    assert held_decoding.decoded == [SPEECH[0], SPEECH[1]]


def test_files_opened_after_the_model_loads_get_its_verdict(window_without_model, qtbot):
    window = window_without_model
    load_shipped_model(qtbot, window)
    window.open_files([SPEECH[1]])
    wait_for_inspection(qtbot, window, SPEECH[1])
