"""Shared fixtures: the real GTZAN clips from ../shared/data (never copied into the repo)."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
GTZAN_DIR = Path(os.environ.get("MUSICSPEECH_GTZAN", REPO.parent / "shared" / "data" / "gtzan_music_speech"))
GTZAN_MUSIC = GTZAN_DIR / "music_speech" / "music_wav"
GTZAN_SPEECH = GTZAN_DIR / "music_speech" / "speech_wav"


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
    from core.datasets import from_folder
    from core.recipes import TrainSettings
    from core.training import train

    result = train(from_folder(subset_dir), TrainSettings(epochs=4, patience=0, seed=1))
    path = result.bundle.save(tmp_path_factory.mktemp("model") / "subset.msmodel")
    return result, path


class VirtualAudio:
    """A real virtual sound device: PulseAudio with a null sink `vsink`, whose monitor is the default microphone.

    The server runs as a child of the tests (not daemonized), in a private runtime folder, so that a test can
    take it away in the middle of a stream (`stop`) and bring it back (`start`) the way a device comes and goes.
    """

    SINK = "vsink"

    def __init__(self, runtime: Path):
        self.runtime = runtime
        self.proc = None

    def start(self) -> None:
        import subprocess
        import time

        self.proc = subprocess.Popen(
            [
                "pulseaudio",
                "--daemonize=no",
                "--use-pid-file=no",
                "--exit-idle-time=-1",
                "-n",
                f"--load=module-null-sink sink_name={self.SINK}",
                "--load=module-native-protocol-unix",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if subprocess.run(["pactl", "info"], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            self.stop()
            pytest.fail("PulseAudio did not start")
        subprocess.run(["pactl", "set-default-sink", self.SINK], check=True)
        subprocess.run(["pactl", "set-default-source", f"{self.SINK}.monitor"], check=True)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # as a device that vanishes: no goodbye to the clients
            self.proc.wait()
            self.proc = None

    def play(self, samples, rate_hz: int = 16000):
        """Start playing float32 samples into the sink and return at once (the `pacat` process; `.wait()` for
        the end). The samples go through a file: a pipe would block the caller at playback speed."""
        import subprocess
        import tempfile

        import numpy as np

        with tempfile.NamedTemporaryFile(dir=self.runtime, suffix=".f32", delete=False) as f:
            f.write(np.asarray(samples, np.float32).tobytes())
        return subprocess.Popen(
            [
                "pacat",
                "--playback",
                f"--device={self.SINK}",
                "--format=float32le",
                f"--rate={rate_hz}",
                "--channels=1",
                "--latency-msec=50",
                f.name,
            ]
        )


@pytest.fixture(scope="session")
def virtual_audio(tmp_path_factory):
    """The running virtual device (see `VirtualAudio`). Started before sounddevice is first imported (PortAudio
    scans devices when it loads) and stopped by its PID at the end."""
    import shutil

    if shutil.which("pulseaudio") is None:
        pytest.fail("pulseaudio is missing: ./test.sh installs it")
    os.environ["XDG_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("pulse-runtime"))
    audio = VirtualAudio(Path(os.environ["XDG_RUNTIME_DIR"]))
    audio.start()
    yield audio
    audio.stop()
