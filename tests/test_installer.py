"""The double-click app: `--self-test` from the source tree, the samples and icons it ships, the spec, the Linux
desktop entry, and (slow) a real build with PyInstaller whose result is run: self-test, window, download, training."""

import http.server
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from musicspeech.core.errors import ModelError
from musicspeech.core.self_test import run_self_test

from .conftest import REPO

SAMPLES = REPO / "resources" / "samples"
ICONS = REPO / "resources" / "icons"
DESKTOP_FILE = REPO / "packaging" / "linux" / "musicspeech.desktop"


def copy_samples(target: Path) -> Path:
    shutil.copytree(SAMPLES, target)
    return target


# --self-test from the source tree ------------------------------------------------------------------------


def test_the_self_test_passes_from_the_source_tree():
    proc = subprocess.run(
        [sys.executable, "-m", "musicspeech", "--self-test"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "source tree" in lines[0] and "musicspeech.msmodel" in lines[1]
    samples = sorted(SAMPLES.rglob("*.ogg"))
    verdicts = {line.split()[-1]: line.split()[:2] for line in lines if line.startswith("ok ")}
    assert verdicts == {f"{p.parent.name}/{p.name}": ["ok", p.parent.name] for p in samples}
    assert lines[-1] == f"self-test passed: {len(samples)} of {len(samples)} samples right"


def test_the_self_test_fails_when_a_sample_is_called_the_wrong_class(tmp_path):
    samples = copy_samples(tmp_path / "samples")
    music = sorted((samples / "music").glob("*.ogg"))[0]
    music.rename(samples / "speech" / music.name)  # now it "should" be speech
    out = io.StringIO()
    assert run_self_test(samples=samples, out=out) == 1
    assert "WRONG   music" in out.getvalue() and f"speech/{music.name}  (expected speech)" in out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith("self-test FAILED: 3 of 4")


def test_the_self_test_fails_on_a_sample_it_cannot_read(tmp_path):
    samples = copy_samples(tmp_path / "samples")
    (samples / "speech" / "broken.ogg").write_bytes(b"OggS not really")
    out = io.StringIO()
    assert run_self_test(samples=samples, out=out) == 1
    assert "FAILED  speech/broken.ogg: cannot read" in out.getvalue()


def test_the_self_test_without_its_model_raises_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        run_self_test(model_path=tmp_path / "missing.msmodel", out=io.StringIO())


# what the app ships --------------------------------------------------------------------------------------


def test_the_samples_are_short_small_and_made_by_the_committed_script(tmp_path):
    files = sorted(SAMPLES.rglob("*"))
    audio = [p for p in files if p.is_file()]
    assert {p.parent.name for p in audio} == {"music", "speech"}
    assert sum(p.stat().st_size for p in audio) < 500_000
    for path in audio:
        assert path.suffix == ".ogg" and 2 <= sf.info(path).duration <= 10
    made = tmp_path / "made"
    subprocess.run([sys.executable, "scripts/make_samples.py", "--out", str(made)], cwd=REPO, check=True)
    assert sorted(p.relative_to(made) for p in made.rglob("*.ogg")) == [p.relative_to(SAMPLES) for p in audio]
    for path in audio:  # the same sound as the committed files (Vorbis bytes may differ between encoders)
        committed, _ = sf.read(path)
        remade, _ = sf.read(made / path.relative_to(SAMPLES))
        assert len(remade) == len(committed)
        assert np.corrcoef(committed, remade)[0, 1] > 0.99
    assert run_self_test(samples=made, out=io.StringIO()) == 0


def test_the_icons_hold_every_size_qt_can_read_back(qapp):
    from PySide6.QtGui import QImage, QImageReader

    for size_px in (16, 24, 32, 48, 64, 128, 256, 512):
        image = QImage(str(ICONS / f"musicspeech-{size_px}.png"))
        assert (image.width(), image.height()) == (size_px, size_px)
        assert image.pixelColor(size_px // 2, size_px // 2).alpha() == 255  # drawn, not blank
    for name, sizes in (
        ("musicspeech.ico", {16, 24, 32, 48, 64, 128, 256}),
        ("musicspeech.icns", {16, 32, 64, 128, 256, 512}),
    ):
        reader = QImageReader(str(ICONS / name))
        found = set()
        for i in range(reader.imageCount()):
            reader.jumpToImage(i)
            image = reader.read()
            assert not image.isNull(), f"{name} entry {i}: {reader.errorString()}"
            found.add(image.width())
        assert found == sizes, name


def test_the_desktop_entry_is_valid_and_opens_audio_files():
    validator = shutil.which("desktop-file-validate")
    assert validator, "desktop-file-validate comes with desktop-file-utils: run ./test.sh"
    proc = subprocess.run([validator, str(DESKTOP_FILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout
    entry = dict(line.split("=", 1) for line in DESKTOP_FILE.read_text().splitlines() if "=" in line)
    assert entry["Exec"].endswith(" %F") and entry["Icon"] == "musicspeech"
    assert {"audio/wav", "audio/flac", "audio/ogg", "audio/mpeg", "audio/mp4"} <= set(entry["MimeType"].split(";"))


# the spec ------------------------------------------------------------------------------------------------


class _Recorder:
    """Stands in for one of PyInstaller's build steps: records what the spec hands it."""

    calls: dict[str, dict] = {}

    def __init__(self, *args, **kwargs):
        _Recorder.calls[type(self).__name__] = {"args": args, **kwargs}
        self.binaries, self.datas, self.pure, self.scripts = [], [], [], []


@pytest.mark.parametrize("os_name", ["linux", "win32", "darwin"])
def test_the_spec_names_what_each_platform_bundles(os_name, monkeypatch, tmp_path):
    """The spec run as PyInstaller runs it (as Python, with its build steps defined), on each platform's branch:
    resources and icons that exist, the macOS microphone text, the Linux desktop files."""
    steps = {name: type(name, (_Recorder,), {}) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    _Recorder.calls = {}
    (tmp_path / "dist" / "musicspeech").mkdir(parents=True)
    spec = REPO / "build_installer.spec"
    namespace = {**steps, "SPECPATH": str(REPO), "DISTPATH": str(tmp_path / "dist"), "workpath": str(tmp_path)}
    monkeypatch.setattr(sys, "platform", os_name)
    exec(compile(spec.read_text(), str(spec), "exec"), namespace)
    monkeypatch.undo()

    analysis = _Recorder.calls["Analysis"]
    datas = {(Path(src), dest) for src, dest in analysis["datas"]}
    assert (REPO / "resources" / "models" / "musicspeech.msmodel", "resources/models") in datas
    assert {dest for _, dest in datas} >= {"resources/samples/music", "resources/samples/speech", "resources/icons"}
    assert any(dest.startswith("tensorflow_datasets/url_checksums") for _, dest in datas)
    assert all(src.exists() for src, _ in datas)
    assert not set(analysis["excludes"]) & {"tensorflow", "keras", "PySide6.QtWidgets", "h5py", "soundfile"}
    exe = _Recorder.calls["EXE"]
    if os_name == "win32":
        assert exe["icon"].endswith(".ico") and Path(exe["icon"]).is_file() and exe["console"]
    if os_name == "darwin":
        bundle = _Recorder.calls["BUNDLE"]
        assert bundle["icon"].endswith(".icns") and Path(bundle["icon"]).is_file()
        assert "microphone" in bundle["info_plist"]["NSMicrophoneUsageDescription"]
    else:
        assert "BUNDLE" not in _Recorder.calls
    copied = sorted(p.name for p in (tmp_path / "dist" / "musicspeech").iterdir())
    assert copied == (["install-desktop-entry.sh", "musicspeech.desktop"] if os_name == "linux" else [])


# the built app -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The app built by the documented command into a temporary folder; removed afterwards (about 1 GB)."""
    top = tmp_path_factory.mktemp("installer")
    proc = subprocess.run(
        [
            str(REPO / "scripts" / "build_installer.sh"),
            "--distpath",
            str(top / "dist"),
            "--workpath",
            str(top / "build"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    yield top / "dist"
    shutil.rmtree(top, ignore_errors=True)


def run_built(built: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(built / "musicspeech" / "musicspeech"), *args], capture_output=True, text=True, check=False, env=env
    )


@pytest.fixture
def user_env(tmp_path):
    """A home of its own for the built app: settings, logs and downloads go under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_DATA", "XDG_CONFIG", "XDG_STATE"))}
    return {
        **env,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


@pytest.mark.slow
def test_the_built_app_passes_its_self_test(built):
    proc = run_built(built, "--self-test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "frozen app" in proc.stdout.splitlines()[0]
    assert f"{built}/musicspeech/_internal/resources/models/musicspeech.msmodel" in proc.stdout
    n = len(list(SAMPLES.rglob("*.ogg")))
    assert proc.stdout.splitlines()[-1] == f"self-test passed: {n} of {n} samples right"


@pytest.mark.slow
def test_the_tarball_holds_the_app_and_its_desktop_entry(built):
    from musicspeech.core import __version__

    (tarball,) = built.glob("*.tar.gz")
    assert tarball.name == f"musicspeech-{__version__}-linux-{platform.machine()}.tar.gz"
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        assert tar.getmember("musicspeech/musicspeech").mode & 0o111
    assert {
        "musicspeech/musicspeech.desktop",
        "musicspeech/install-desktop-entry.sh",
        "musicspeech/_internal/resources/models/musicspeech.msmodel",
        "musicspeech/_internal/resources/icons/musicspeech-256.png",
    } <= names
    assert not any(n.startswith(("musicspeech/_internal/pyarrow", "musicspeech/_internal/_pytest")) for n in names)


@pytest.mark.slow
def test_the_desktop_entry_installs_pointing_at_the_built_program(built, user_env, tmp_path):
    script = built / "musicspeech" / "install-desktop-entry.sh"
    subprocess.run([str(script)], env=user_env, check=True, capture_output=True)
    entry = tmp_path / "data" / "applications" / "musicspeech.desktop"
    assert f'Exec="{built}/musicspeech/musicspeech" %F' in entry.read_text().splitlines()
    subprocess.run(["desktop-file-validate", str(entry)], check=True)
    assert (tmp_path / "data" / "icons" / "hicolor" / "48x48" / "apps" / "musicspeech.png").is_file()
    subprocess.run([str(script), "--remove"], env=user_env, check=True, capture_output=True)
    assert not entry.exists()


def wait_for_log_line(log: Path, text: str, process: subprocess.Popen, timeout_s: float = 120) -> bool:
    """Wait until the app's log has `text` (True), or the app has ended or the time is up (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if log.is_file() and text in log.read_text():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def xvfb_display():
    """A real X server without a screen (Xvfb), stopped by its PID afterwards."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is missing: ./test.sh installs it")
    read_fd, write_fd = os.pipe()  # Xvfb picks a free display and writes its number here
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"], pass_fds=[write_fd]
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as numbers:
        display = f":{numbers.readline().strip()}"
    yield display
    server.send_signal(signal.SIGTERM)
    server.wait()


@pytest.mark.slow
@pytest.mark.parametrize("qt_platform", ["offscreen", "xcb"])
def test_the_built_app_opens_its_window_and_stays_up(built, user_env, tmp_path, qt_platform, request):
    env = {**user_env, "QT_QPA_PLATFORM": qt_platform}
    if qt_platform == "xcb":
        env["DISPLAY"] = request.getfixturevalue("xvfb_display")
    sample = REPO / "resources" / "samples" / "speech" / "weather-en-us.ogg"
    app = subprocess.Popen(
        [str(built / "musicspeech" / "musicspeech"), str(sample)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        log = tmp_path / "state" / "musicspeech" / "log" / "musicspeech.log"
        loaded = wait_for_log_line(log, "model active: musicspeech.msmodel", app)
        time.sleep(3)  # a few seconds of the window with the model in use and the file opened
        alive = app.poll() is None
    finally:
        app.terminate()
        output, _ = app.communicate(timeout=30)
    assert loaded and alive, output
    assert f"window shown (Qt platform {qt_platform})" in log.read_text()
    assert "ERROR" not in log.read_text()


@pytest.fixture
def gtzan_like_server(tmp_path):
    """A local HTTP server with a music_speech.tar.gz in GTZAN's layout, made from the shipped samples."""
    root = tmp_path / "archive"
    for path in sorted(SAMPLES.rglob("*.ogg")):
        samples, rate_hz = sf.read(path, dtype="float32")
        out = root / "music_speech" / f"{path.parent.name}_wav" / f"{path.stem}.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(out, soxr.resample(samples, rate_hz, 22_050), 22_050, subtype="PCM_16")
    with tarfile.open(root / "music_speech.tar.gz", "w:gz") as tar:
        tar.add(root / "music_speech", arcname="music_speech")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/music_speech.tar.gz"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_the_built_app_downloads_through_tensorflow_datasets_and_trains(built, user_env, gtzan_like_server, tmp_path):
    """tensorflow-datasets' data files, its download in a child process (multiprocessing in a frozen app), and
    Keras training and saving, all inside the built folder."""
    proc = run_built(built, "download", "--url", gtzan_like_server, "--no-checksum", env=user_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is ready" in proc.stdout
    model = tmp_path / "trained.msmodel"
    proc = run_built(
        built, "train", "--data", "tfds", "--epochs", "1", "--val-fraction", "0", "--out", str(model), env=user_env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_built(built, "classify", "--model", str(model), "--format", "json", str(SAMPLES), env=user_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(r["path"] for r in results) == sorted(str(p) for p in SAMPLES.rglob("*.ogg"))
    assert all(r["label"] in ("music", "speech", "silence") for r in results)


@pytest.mark.slow
def test_the_built_app_hears_a_sound_device(built, virtual_audio):
    """PortAudio inside the built folder: the devices are listed, and live mode classifies speech played into the
    virtual device (the shipped samples: espeak-ng speech)."""
    import numpy as np

    from musicspeech.core.audio import load_audio

    listed = run_built(built, "live", "--list-devices")
    assert listed.returncode == 0 and "* default (" in listed.stdout, listed.stdout + listed.stderr
    proc = subprocess.Popen(
        [str(built / "musicspeech" / "musicspeech"), "live", "--duration", "14", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline().startswith("listening to default")
    speech = [load_audio(p, 16000).samples for p in sorted((SAMPLES / "speech").glob("*.ogg"))]
    virtual_audio.play(np.concatenate(speech)).wait()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    labels = [json.loads(line)["label"] for line in out.splitlines()]
    assert "speech" in labels and "music" not in labels
