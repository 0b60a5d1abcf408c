"""Sung music made from speech (scripts/make_sung.py) on real GTZAN clips: the voice holds notes of a scale where
speech glides, and the clips join the pool with the pool's layout and a manifest row each."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

pw = pytest.importorskip("pyworld", reason="the pool's extra (pyworld-prebuilt) builds sung clips")

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "make_sung.py"
COLUMNS = ",".join(
    ["path", "label", "split", "package", "version", "licence", "source_file", "offset_s", "duration_s"]
    + ["kind", "language", "synthetic", "source", "active_share"]
)


def _module():
    spec = importlib.util.spec_from_file_location("make_sung", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _at_16k(path: Path) -> np.ndarray:
    x, rate = sf.read(str(path), dtype="float64")
    return soxr.resample(x, rate, 16000)


def _pitch(x: np.ndarray) -> np.ndarray:
    """Semitones of each voiced 5 ms frame (NaN where unvoiced), by WORLD's Harvest: an estimator of its own,
    not the one (DIO) that the script resynthesises from."""
    f0, _ = pw.harvest(x.astype(np.float64), 16000, frame_period=5.0, f0_floor=60.0, f0_ceil=700.0)
    return np.where(f0 > 0, 12 * np.log2(np.maximum(f0, 1e-6) / 440.0), np.nan)


def _held_share(semis: np.ndarray) -> float:
    """Share of voiced frames whose pitch stays within a semitone of the median of the 150 ms around them."""
    held, voiced = 0, 0
    for i in np.flatnonzero(~np.isnan(semis)):
        around = semis[max(0, i - 15) : i + 15]
        around = around[~np.isnan(around)]
        voiced += 1
        held += len(around) >= 20 and abs(semis[i] - np.median(around)) < 1.0 and np.ptp(around) < 2.0
    return held / max(voiced, 1)


def test_speech_is_sung_on_held_notes(speech_clip):
    mod = _module()
    spoken = _at_16k(speech_clip)[: 16000 * 12]
    sung = mod.sing(spoken, np.random.default_rng(3), seconds=15.0, harmony=0)  # one voice: one pitch to track
    assert sung.dtype == np.float32 and 0.5 < np.max(np.abs(sung)) <= 0.71
    assert 10.0 <= len(sung) / 16000 <= 15.0  # vowels held longer: 12 s of speech give more than 10 s
    before, after = _pitch(spoken), _pitch(sung.astype(np.float64))
    assert np.mean(~np.isnan(after)) > np.mean(~np.isnan(before)) + 0.1  # more of it voiced
    assert _held_share(after) > 0.45 and _held_share(before) < 0.25  # notes held, where speech glides


def test_sung_clips_join_the_pool(tmp_path, speech_clip, music_clip, gtzan_dir):
    pool = tmp_path / "pool"
    rows = []
    for split in ("train", "dev"):
        for label, clip in (("speech", speech_clip), ("music", music_clip)):
            path = f"{split}/{label}/gtzan__{split}_{label}.wav"
            (pool / split / label).mkdir(parents=True, exist_ok=True)
            sf.write(str(pool / path), _at_16k(clip)[: 16000 * 10], 16000, subtype="PCM_16")
            rows.append(f"{path},{label},{split},gtzan-{split},1,CC0,{clip.name},0,10.0,voice-acting,en,0,gtzan,1.0")
    (pool / "manifest.csv").write_text(COLUMNS + "\n" + "\n".join(rows) + "\n")

    for _ in range(2):  # a second run replaces the sung clips, never adds to them
        assert _module().main(["--pool", str(pool), "--train", "2", "--dev", "1", "--a-cappella", "0"]) == 0
    with open(pool / "manifest.csv", newline="") as f:
        got = list(csv.DictReader(f))
    assert [r["path"] for r in got[:4]] == [r.split(",")[0] for r in rows]  # the pool's own rows kept as they were
    sung = got[4:]
    assert sorted(r["path"] for r in sung) == sorted(str(p.relative_to(pool)) for p in pool.glob("*/music/sung__*.wav"))
    assert [r["split"] for r in sung] == ["train", "train", "dev"]
    for r in sung:
        assert r["label"] == "music" and r["synthetic"] == "1" and r["kind"] == "sung-synthetic"
        assert r["package"] == f"gtzan-{r['split']} + gtzan-{r['split']}"  # the voice's and the music's, same split
        assert r["licence"] == "CC0 + CC0"
        info = sf.info(str(pool / r["path"]))
        assert (info.samplerate, info.channels) == (16000, 1)
        assert abs(info.duration - float(r["duration_s"])) < 0.01 and 5.0 <= info.duration <= 20.0
