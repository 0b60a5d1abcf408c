"""`--self-test` from the source tree, the samples it classifies, and the app's icons."""

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.errors import ModelError
from core.self_test import run_self_test

from .conftest import REPO

SAMPLES = REPO / "resources" / "samples"
ICONS = REPO / "resources" / "icons"


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


# the samples --------------------------------------------------------------------------------------------


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


# the icons ---------------------------------------------------------------------------------------------


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
