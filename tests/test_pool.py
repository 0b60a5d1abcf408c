"""The training-pool builder (scripts/build_pool.py) on a small real subset: real `apt-get download` of three
small Debian packages, real decoding. Checks the layout, the manifest, the audio format, the split by package,
the reuse of the download cache, and that the deny list refuses an evaluation package before downloading it."""

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "build_pool.py"
ONLY = "alsa-utils,heroes-music,sound-theme-freedesktop"  # speech + noise (train), tracker music, noise (dev)
COLUMNS = [
    "path",
    "label",
    "split",
    "package",
    "version",
    "licence",
    "source_file",
    "offset_s",
    "duration_s",
    "kind",
    "language",
    "synthetic",
    "source",
    "active_share",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("ffmpeg") and shutil.which("apt-get") and shutil.which("dpkg-deb")),
        reason="needs ffmpeg, apt-get and dpkg-deb (Debian)",
    ),
]


def _load_module():
    spec = importlib.util.spec_from_file_location("build_pool", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    out = tmp_path_factory.mktemp("pool")
    p = _run(out, "--limit", "2", "--only", ONLY)
    assert p.returncode == 0, p.stderr + p.stdout
    return out, p


def _manifest(out):
    with open(out / "manifest.csv", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_layout_and_manifest(pool):
    out, _ = pool
    for split in ("train", "dev"):
        for label in ("music", "speech", "noise"):
            assert (out / split / label).is_dir()
    assert (out / "SOURCES.md").is_file()
    fields, rows = _manifest(out)
    assert fields == COLUMNS
    assert {r["label"] for r in rows} == {"music", "speech", "noise"}
    assert {r["split"] for r in rows} == {"train", "dev"}
    wavs = {str(p.relative_to(out)) for p in out.glob("*/*/*.wav")}
    assert wavs == {r["path"] for r in rows}  # every clip listed once, nothing unlisted
    for r in rows:
        assert r["path"] == f"{r['split']}/{r['label']}/{Path(r['path']).name}"
        assert Path(r["path"]).name.startswith(r["package"] + "__")
        assert r["licence"] and r["licence"] != "unknown"
        assert r["version"] and r["kind"] and r["source_file"]
        assert 4.0 <= float(r["duration_s"]) <= 30.0
        if r["label"] == "speech":
            assert float(r["active_share"]) >= 0.5


def test_clips_are_16k_mono_16bit(pool):
    out, _ = pool
    _, rows = _manifest(out)
    for r in rows:
        with wave.open(str(out / r["path"])) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            assert abs(w.getnframes() / 16000 - float(r["duration_s"])) < 0.02


def test_split_is_by_package(pool):
    out, _ = pool
    _, rows = _manifest(out)
    splits = {}
    for r in rows:
        splits.setdefault(r["package"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits.values()), splits
    assert splits["sound-theme-freedesktop"] == {"dev"} and splits["alsa-utils"] == {"train"}


def test_second_run_reuses_downloads_and_is_deterministic(pool, tmp_path):
    out, _ = pool
    debs = sorted((out / "debs").glob("*.deb"))
    assert len(debs) >= 3
    stamps = {d: d.stat().st_mtime_ns for d in debs}
    again = tmp_path / "again"
    p = _run(again, "--limit", "2", "--only", ONLY, "--debs", out / "debs")
    assert p.returncode == 0, p.stderr
    assert {d: d.stat().st_mtime_ns for d in debs} == stamps  # nothing downloaded again
    assert _manifest(again)[1] == _manifest(out)[1]


def test_deny_list_refuses_an_evaluation_package(tmp_path):
    family = sorted(_load_module()._load_deny())[0]  # from ../shared's list: this repository names none of them
    pkg = f"{family}-sounds-en"
    out = tmp_path / "denied"
    p = _run(out, "--only", "alsa-utils", "--extra", rf"bad:{pkg}:speech:announcer:\.wav$")
    assert p.returncode != 0
    assert "refusing" in p.stderr and pkg in p.stderr
    assert not list(out.glob("debs/*.deb"))  # refused before anything was downloaded


def test_deny_list_covers_the_families():
    mod = _load_module()
    text = Path(mod.EVALUATION_SOURCES).read_text()
    families = mod.deny_families(text)
    assert len(families) >= 25  # every family of the list's bullets, its PyPI line and the devset's packages
    for family in families:
        assert family in text.lower()
        for pkg in (family, f"{family}-data", f"{family}-music-ogg", f"{family}.audio"):
            assert mod.denied(pkg), pkg
    for pkg in ("ascii", "warmux-data", "0ad-data", "tuxpaint-stamps-default"):
        assert not mod.denied(pkg), pkg
    assert not [s["pkg"] for s in mod.SOURCES if mod.denied(s["pkg"])]


def test_sources_keep_each_package_in_one_split_and_tts_a_minority():
    mod = _load_module()
    splits = {}
    for s in mod.SOURCES:
        splits.setdefault(s["pkg"], set()).add(s["split"])
    assert all(len(v) == 1 for v in splits.values())
    speech = [s for s in mod.SOURCES if s["label"] == "speech"]
    tts = sum(s["cap"] for s in speech if s["synthetic"])
    assert tts < 0.2 * sum(s["cap"] for s in speech)


def test_wrapper_usage_line():
    p = subprocess.run(
        ["bash", str(REPO / "scripts" / "build_pool.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": os.environ.get("PATH", "")},
    )
    assert p.returncode == 2 and "usage" in p.stderr
