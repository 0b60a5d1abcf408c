"""Sung music made from the pool's own speech: the lines sung to a melody, over the pool's own music.

No redistributable recording of songs with sung vocals was found (docs/POOL.md), so the pool had nothing to teach
that a voice holding notes over a band is music. This script makes such clips from what the pool has. Each one
takes a real spoken clip (never a synthetic voice) and resynthesises it with the WORLD vocoder (`pyworld`):

- its voiced stretches (vowels) are held 1.5-3.5 times longer, its consonants and pauses kept;
- its pitch follows a melody instead of speech prosody: notes of a major or minor scale around the speaker's own
  pitch, whole beats of a random tempo, with short glides between them and vibrato on held notes;
- sometimes a second voice sings a third or a fifth above or below; often the voice has a room;
- mostly over a music clip of the same split (the voice 6 dB under to 8 dB over it), sometimes alone.

The clips are labelled music and written with the pool's layout (`SPLIT/music/sung__*.wav`), with rows for the
pool's manifest (source files, licences: those of the speech and of the music). A train clip uses only train
speech and music, a dev clip only dev ones.

    .venv/bin/python scripts/make_sung.py --pool /work/pool-final --train 120 --dev 30
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
from pathlib import Path

import numpy as np

from musicspeech.core.augment import mix, reverberate

RATE = 16000
FRAME_MS = 5.0
VOICE_DB = (-6.0, 3.0)  # the voice's level over the music's (mean power); speech over music from +5 dB up is speech
LEGATO = 50  # frames: an unvoiced stretch longer than 0.25 s is cut to 0.05-0.25 s
SPOKEN_KINDS = ("read-speech", "voice-acting")  # running speech; not single words (spoken-word) nor announcers
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


def _read(path: Path) -> np.ndarray:
    import soundfile as sf

    x, rate = sf.read(str(path), dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if rate != RATE:  # the pool's clips are 16 kHz already; others (GTZAN's in the quick benchmark) are not
        import soxr

        x = soxr.resample(x, rate, RATE)
    return x


def _runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, end, value) of the runs of equal values in a boolean array."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate([[0], edges, [len(mask)]])
    return [(int(a), int(b), bool(mask[a])) for a, b in itertools.pairwise(bounds)]


def _melody(n_frames: int, voiced_runs: list[tuple[int, int]], centre_hz: float, rng) -> np.ndarray:
    """A pitch contour (Hz per frame) that holds scale notes of whole beats, glides between them and has
    vibrato; 0 where unvoiced."""
    frames_per_s = 1000.0 / FRAME_MS
    beat = 60.0 / rng.uniform(70, 150) * frames_per_s
    scale = SCALES[rng.choice(list(SCALES))]
    tonic = 12 * np.log2(centre_hz / 440.0) + 69 + rng.integers(-3, 4)  # MIDI pitch near the speaker's own
    degree = 0
    semis = np.full(n_frames, np.nan)
    for a, b in voiced_runs:
        t = a
        while t < b:
            length = int(beat * rng.choice([0.5, 1, 1, 1, 2, 2, 3]))
            degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), -5, 8))
            octave, step = divmod(degree, 7)
            semis[t : min(b, t + max(length, 4))] = tonic + 12 * octave + scale[step]
            t += max(length, 4)
    voiced = ~np.isnan(semis)
    filled = semis.copy()  # glides: smooth the steps over about 40 ms, across short gaps too
    idx = np.flatnonzero(voiced)
    if len(idx):
        filled[~voiced] = np.interp(np.flatnonzero(~voiced), idx, semis[idx])
    k = int(rng.uniform(20, 60) / FRAME_MS) | 1
    filled = np.convolve(np.pad(filled, k // 2, mode="edge"), np.ones(k) / k, mode="valid")
    t = np.arange(n_frames) / frames_per_s
    depth = rng.uniform(0.15, 0.6)  # semitones
    vibrato = depth * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t + rng.uniform(0, 6.3))
    onset = np.zeros(n_frames)  # vibrato grows in over each held note
    for a, b, v in _runs(voiced):
        if v:
            onset[a:b] = np.clip((np.arange(b - a) - 0.15 * frames_per_s) / (0.25 * frames_per_s), 0, 1)
    hz = 440.0 * 2 ** ((filled + vibrato * onset - 69) / 12)
    return np.where(voiced, hz, 0.0)


def _analyse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WORLD's pitch (DIO refined by StoneMask), spectral envelope (CheapTrick) and aperiodicity (D4C)."""
    import pyworld as pw

    f0, times = pw.dio(x, RATE, f0_floor=60.0, f0_ceil=500.0, frame_period=FRAME_MS)
    f0 = pw.stonemask(x, f0, times, RATE)
    return f0, pw.cheaptrick(x, f0, times, RATE), pw.d4c(x, f0, times, RATE)


def sing(x: np.ndarray, rng: np.random.Generator, seconds: float, harmony: float = 0.3) -> np.ndarray:
    """`x` (spoken, 16 kHz) sung to a random melody, at most `seconds` long (float32); a second voice sings in
    harmony with probability `harmony`."""
    import pyworld as pw

    f0, sp, ap = _analyse(x)
    voiced = f0 > 0
    # Hold the vowels: each voiced run (>= 40 ms) stretched; consonants and pauses as spoken.
    index: list[np.ndarray] = []
    runs: list[tuple[int, int]] = []
    n = 0
    for a, b, v in _runs(voiced):
        if v and b - a >= 8:
            length = int((b - a) * rng.uniform(1.5, 3.5))
            runs.append((n, n + length))
            index.append(np.linspace(a, b - 1, length).round().astype(int))
        elif b - a > LEGATO:  # a pause: sung phrases run on, so it is cut short (its middle dropped)
            keep = int(rng.integers(10, LEGATO))
            index.append(np.concatenate([np.arange(a, a + keep // 2), np.arange(b - keep + keep // 2, b)]))
        else:
            index.append(np.arange(a, b))
        n += len(index[-1])
    order = np.concatenate(index)
    sp, ap = sp[order], ap[order]
    centre = float(np.median(f0[voiced])) if voiced.any() else 150.0
    melody = _melody(len(order), runs, centre, rng)
    out = pw.synthesize(melody, np.ascontiguousarray(sp), np.ascontiguousarray(ap), RATE, FRAME_MS)
    if rng.random() < harmony:  # a second voice
        ratio = 2 ** (rng.choice([3, 4, 7, -5, -8, -9]) / 12)
        second = pw.synthesize(melody * ratio, np.ascontiguousarray(sp), np.ascontiguousarray(ap), RATE, FRAME_MS)
        out = out + second[: len(out)] * 10 ** (rng.uniform(-8, -2) / 20)
    out = out[: int(seconds * RATE)]
    return (out / (np.max(np.abs(out)) or 1.0) * 0.7).astype(np.float32)


def song(
    voice_path: Path, bed_path: Path | None, rng: np.random.Generator, voice_db: tuple[float, float] = VOICE_DB
) -> tuple[np.ndarray, dict]:
    """A clip of sung `voice_path`, over `bed_path` (a music clip) unless None, the voice `voice_db` louder than
    the music (a random level in that range); and what was done."""
    seconds = float(rng.uniform(10, 20))
    voice = sing(_read(voice_path), rng, seconds)
    info = {"reverb": 0, "bed_db": ""}
    if rng.random() < 0.6:
        voice = reverberate(voice, RATE, rng)
        info["reverb"] = 1
    if bed_path is None:
        return voice, info
    bed = _read(bed_path).astype(np.float32)
    if len(bed) < len(voice):
        bed = np.tile(bed, int(np.ceil(len(voice) / len(bed))))
    start = int(rng.integers(0, len(bed) - len(voice) + 1))
    snr = float(rng.uniform(*voice_db))
    info["bed_db"] = f"{snr:.1f}"
    return mix(voice, bed[start : start + len(voice)], snr), info


def write_wav(path: Path, a: np.ndarray) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    sf.write(str(tmp), np.clip(a, -1, 1), RATE, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def songs(
    pool: Path,
    rows: list[dict],
    split: str,
    count: int,
    a_cappella: float,
    rng: np.random.Generator,
    voice_db: tuple[float, float] = VOICE_DB,
    kinds: tuple[str, ...] | None = SPOKEN_KINDS,
):
    """`count` sung clips from the real speech of one split of the pool (`rows`: its manifest), over its music
    but for a share `a_cappella`: (samples, the voice's row, the music's row or None, what was done) each."""
    voices = [
        r
        for r in rows
        if r["split"] == split and r["label"] == "speech" and (r["kind"] in kinds if kinds else r["synthetic"] == "0")
    ]
    beds = [r for r in rows if r["split"] == split and r["label"] == "music" and r.get("source") != "sung"]
    if count and not (voices and beds):
        print(f"{split}: no spoken clips or no music to sing them over: no sung clips", flush=True)
        return
    for i in rng.permutation(len(voices))[:count] if count <= len(voices) else rng.integers(0, len(voices), count):
        v = voices[int(i)]
        b = None if rng.random() < a_cappella else beds[int(rng.integers(len(beds)))]
        audio, info = song(pool / v["path"], pool / b["path"] if b else None, rng, voice_db)
        yield audio, v, b, info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=Path, required=True, help="a pool built by scripts/build_pool.sh")
    parser.add_argument("--train", type=int, default=120, help="sung clips for the train split")
    parser.add_argument("--dev", type=int, default=0, help="sung clips for the dev split")
    parser.add_argument("--a-cappella", type=float, default=0.1, help="share of clips with no music under them")
    parser.add_argument(
        "--voice-db", type=float, nargs=2, default=VOICE_DB, metavar=("LO", "HI"), help="the voice over the music"
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    manifest = args.pool / "manifest.csv"
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0].keys())
    kept = [r for r in rows if r["source"] != "sung"]
    for r in rows:
        if r not in kept:  # an earlier run's: replaced
            (args.pool / r["path"]).unlink(missing_ok=True)
    rng = np.random.default_rng(args.seed)
    new = []
    for split, count in (("train", args.train), ("dev", args.dev)):
        for audio, v, b, info in songs(args.pool, kept, split, count, args.a_cappella, rng, tuple(args.voice_db)):
            name = f"{split}/music/sung__{len(new):04d}.wav"
            write_wav(args.pool / name, audio)
            sources = [v] + ([b] if b else [])
            new.append(
                {
                    **{c: "" for c in columns},
                    "path": name,
                    "label": "music",
                    "split": split,
                    "package": " + ".join(s["package"] for s in sources),
                    "version": " + ".join(s["version"] for s in sources),
                    "licence": " + ".join(s["licence"] for s in sources),
                    "source_file": " + ".join(s["path"] for s in sources),
                    "offset_s": "0",
                    "duration_s": f"{len(audio) / RATE:.2f}",
                    "kind": "sung-synthetic" + ("" if b else "-a-cappella"),
                    "language": v.get("language", ""),
                    "synthetic": "1",
                    "source": "sung",
                    "active_share": "1.0",
                }
            )
            print(f"{name}  {v['path']}  over {b['path'] if b else '-'}  {info}", flush=True)
    tmp = manifest.with_suffix(".part")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(kept + new)
    os.replace(tmp, manifest)
    _note_in_sources(args.pool / "SOURCES.md", new)
    return 0


def _note_in_sources(path: Path, rows: list[dict]) -> None:
    """SOURCES.md (scripts/build_pool.py's) gets a section on the sung clips, replacing an earlier one."""
    if not path.is_file():
        return
    text = path.read_text().split(SECTION)[0].rstrip("\n")
    lines = [
        "",
        "",
        SECTION,
        "",
        "Made by scripts/make_sung.py from the pool's own real speech and music of the same split (licences: those of",
        "both, in each clip's manifest row).",
        "",
        "| split | clips | minutes | a cappella |",
        "|---|---|---|---|",
    ]
    for split in ("train", "dev"):
        got = [r for r in rows if r["split"] == split]
        minutes = sum(float(r["duration_s"]) for r in got) / 60
        alone = sum(r["kind"].endswith("a-cappella") for r in got)
        lines.append(f"| {split} | {len(got)} | {minutes:.1f} | {alone} |")
    tmp = path.with_suffix(".part")
    tmp.write_text(text + "\n".join(lines) + "\n")
    os.replace(tmp, path)


SECTION = "## Sung clips (synthetic music)"


if __name__ == "__main__":
    sys.exit(main())
