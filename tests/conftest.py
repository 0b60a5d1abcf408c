"""Shared fixtures: the real GTZAN clips from ../shared/data (never copied into the repo)."""

import gc
import os
from pathlib import Path

import pytest

from . import faulty_folders
from .virtual_audio import VirtualAudio

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
GTZAN_DIR = Path(os.environ.get("MUSICSPEECH_GTZAN", REPO.parent / "shared" / "data" / "gtzan_music_speech"))
GTZAN_MUSIC = GTZAN_DIR / "music_speech" / "music_wav"
GTZAN_SPEECH = GTZAN_DIR / "music_speech" / "speech_wav"


@pytest.fixture(autouse=True)
def _free_qt_objects_on_the_main_thread(request):
    """After a test with widgets, free what it left in reference cycles here, on the main thread. Left to a
    later collection, that could run on a worker thread and destroy Qt objects there, which deadlocked PySide6
    (seen: a model load on a task thread freeing an old window's QActions while the GUI thread deleted widgets)."""
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()


@pytest.fixture(scope="session", autouse=True)
def private_cache_folder(tmp_path_factory):
    """The app's cache folder (training features, extracted archives) in a temporary folder, for this process
    and the commands it starts: the tests leave nothing in the user's cache."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def gtzan_dir() -> Path:
    if not GTZAN_MUSIC.is_dir():
        pytest.fail(f"the GTZAN clips are missing at {GTZAN_DIR} (set MUSICSPEECH_GTZAN)")
    return GTZAN_DIR


@pytest.fixture(scope="session")
def music_clip(gtzan_dir) -> Path:
    return GTZAN_MUSIC / "blues.wav"


@pytest.fixture(scope="session")
def speech_clip(gtzan_dir) -> Path:
    return GTZAN_SPEECH / "acomic.wav"


SUBSET_MUSIC = [
    "blues",
    "jazz",
    "classical",
    "rock",
    "pop",
    "opera",
    "guitar",
    "beatles",
    "bagpipe",
    "winds",
    "hendrix",
    "duke",
]
SUBSET_SPEECH = [
    "acomic",
    "allison",
    "amal",
    "austria",
    "charles",
    "china",
    "comedy",
    "conversion",
    "dialogue1",
    "vegetables1",
    "teachers1",
    "voice",
]


def link_subset(target: Path, music=SUBSET_MUSIC, speech=SUBSET_SPEECH) -> Path:
    """A class-per-folder tree of symbolic links to a few real GTZAN clips (nothing copied)."""
    for label, names, src in (("music", music, GTZAN_MUSIC), ("speech", speech, GTZAN_SPEECH)):
        (target / label).mkdir(parents=True, exist_ok=True)
        for name in names:
            (target / label / f"{name}.wav").symlink_to(src / f"{name}.wav")
    return target


@pytest.fixture(scope="session")
def subset_dir(gtzan_dir, tmp_path_factory) -> Path:
    return link_subset(tmp_path_factory.mktemp("subset"))


@pytest.fixture(scope="session")
def trained(subset_dir, tmp_path_factory):
    """A real model trained for a few epochs on 12 + 12 GTZAN clips (about 10 s), saved to disk."""
    from musicspeech.core.datasets import from_folder
    from musicspeech.core.recipes import TrainSettings
    from musicspeech.core.training import train

    result = train(from_folder(subset_dir), TrainSettings(epochs=4, patience=0, seed=1))
    path = result.bundle.save(tmp_path_factory.mktemp("model") / "subset.msmodel")
    return result, path


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder (`.path`) that refuses every write for real once the test calls `.freeze()`; `.problem` is what
    the user is told. See `faulty_folders`."""
    with faulty_folders.read_only_folder(tmp_path / "read-only") as folder:
        yield folder


@pytest.fixture
def small_disk(tmp_path):
    """A small disk of its own (`.path`, 64 MB) that the test fills (`.fill(leave=...)`). See `faulty_folders`."""
    with faulty_folders.small_disk(tmp_path / "small-disk") as disk:
        yield disk


@pytest.fixture
def window(qtbot, tmp_path, virtual_audio):  # the sound server first: PortAudio scans devices when it loads
    """The app's real main window, shown, with the shipped model loaded (settings in a temporary file)."""
    from PySide6.QtCore import QSettings

    from musicspeech.gui.app import create_window

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = create_window(settings=settings)
    qtbot.addWidget(w)
    assert w.isVisible()
    assert w.model.classifier is None  # the window is up before TensorFlow and the model
    qtbot.waitUntil(lambda: w.model.classifier is not None, timeout=60_000)
    return w


@pytest.fixture(autouse=True)
def sound_server_before_any_window(request):
    """Every test with widgets gets the virtual device first: a window loads PortAudio, which scans the devices
    as it loads (run first, tests/test_model_faults_gui.py loaded it with no sound server, and a later Live tab
    found no input device)."""
    if "qtbot" in request.fixturenames:
        request.getfixturevalue("virtual_audio")


@pytest.fixture(scope="session")
def virtual_audio(tmp_path_factory):
    """The running virtual device (see `VirtualAudio`). Started before sounddevice is first imported (PortAudio
    scans devices when it loads) and stopped by its PID at the end."""
    import shutil

    if shutil.which("pulseaudio") is None:
        pytest.fail("pulseaudio is missing: ./test.sh installs it")
    os.environ["XDG_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("pulse-runtime"))
    audio = VirtualAudio(Path(os.environ["XDG_RUNTIME_DIR"]))
    try:
        audio.start()
    except RuntimeError as e:
        pytest.fail(str(e))
    yield audio
    audio.stop()


def pytest_sessionfinish(session, exitstatus):
    session.config.musicspeech_exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Leave without the interpreter's final garbage collection: with TensorFlow, PySide6 and PortAudio in one
    process (the tests train in theirs; the app trains in a child process) it aborted ("bool_dealloc:
    deallocating True or False") after every test had passed, a refcount error in one of those C extensions that
    only shows when the interpreter frees everything at exit. The report is complete by now."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(getattr(config, "musicspeech_exit_status", 0))
