"""Our own broad dev sets, made from the training pool's dev split (packages never trained on), never trained on.

    .venv/bin/python bench/devsets.py POOL OUT [--seed 0] [--quick]

POOL is a pool built by scripts/build_pool.sh (its `dev/{music,speech,noise}` folders: packages the shipped
model never saw). OUT gets `manifest.csv` (path, label, category, group) and the audio:

- clean/: dev speech and music clips as they are (10 s excerpts);
- hard/: speech over a music bed at +20, +10, +5 and 0 dB (labelled speech), reverberant speech in noise,
  music in noise, 2 s excerpts, and low-bit-rate codecs (MP3 32k, Opus 12k, GSM through ffmpeg);
- programmes/: 2-4 minutes alternating speech and music with hard cuts and crossfades, with their true segments
  in `programmes/*.json`;
- silence/: digital silence, hiss at -70 dBFS, and a quiet room tone: labelled silence.

Everything is seeded: the same pool gives the same files.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from musicspeech.core.audio import load_audio  # noqa: E402
from musicspeech.core.augment import mix, reverberate  # noqa: E402

RATE = 16000
BED_SNRS_DB = (20, 10, 5, 0)


def clips(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.wav")) if folder.is_dir() else []


def read(path: Path) -> np.ndarray:
    return load_audio(path, RATE).samples


def excerpt(x: np.ndarray, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """`seconds` of `x` from a random offset where it mostly sounds (a music clip's quiet end is not music):
    the first of a few tries with at least 70 % of its 100 ms blocks above -55 dBFS, else the loudest try."""
    n = int(seconds * RATE)
    if len(x) <= n:
        return x
    best, best_share = x[:n], -1.0
    for _ in range(8):
        start = int(rng.integers(0, len(x) - n))
        part = x[start : start + n]
        blocks = part[: len(part) // 1600 * 1600].reshape(-1, 1600)
        share = float(np.mean(10 * np.log10(np.mean(blocks**2, axis=1) + 1e-12) > -55)) if len(blocks) else 0.0
        if share >= 0.7:
            return part
        if share > best_share:
            best, best_share = part, share
    return best


def group(path: Path) -> str:
    """The source package of a pool clip (its file name starts with it)."""
    return path.name.split("__")[0]


def codec(x: np.ndarray, args: list[str], container: str) -> np.ndarray:
    raw = ["-f", "f32le", "-ar", str(RATE), "-ac", "1"]
    enc = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", *raw, "-i", "-", *args, "-f", container, "-"],
        input=x.astype(np.float32).tobytes(),
        capture_output=True,
        check=True,
    ).stdout
    dec = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", "-", *raw, "-"], input=enc, capture_output=True, check=True
    ).stdout
    return np.frombuffer(dec, np.float32).copy()


CODECS = {
    "mp3-32k": (["-c:a", "libmp3lame", "-b:a", "32k"], "mp3"),
    "opus-12k": (["-c:a", "libopus", "-b:a", "12k"], "ogg"),
    "gsm": (["-ar", "8000", "-c:a", "libgsm"], "gsm"),
}


def build(pool: Path, out: Path, seed: int = 0, quick: bool = False) -> list[dict]:
    rng = np.random.default_rng(seed)
    dev = pool / "dev"
    speech, music, noise = (clips(dev / k) for k in ("speech", "music", "noise"))
    if not speech or not music:
        raise SystemExit(f"{dev}: needs speech/ and music/ clips (build the pool first: scripts/build_pool.sh)")
    per = 6 if quick else 10**9
    speech, music = speech[:per], music[:per]
    noise = noise[: max(1, per // 2)] if noise else []
    rows: list[dict] = []

    def write(rel: str, x: np.ndarray, label: str, category: str, grp: str) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        if peak > 0.99:
            x = x * (0.99 / peak)
        sf.write(path, x.astype(np.float32), RATE, subtype="PCM_16")
        rows.append({"path": rel, "label": label, "category": category, "group": grp})

    speech_x = {p: read(p) for p in speech}
    music_x = {p: read(p) for p in music}
    noise_x = {p: read(p) for p in noise}

    # clean
    for p, x in speech_x.items():
        write(f"clean/speech/{p.stem}.wav", excerpt(x, 10, rng), "speech", "clean", group(p))
    for p, x in music_x.items():
        write(f"clean/music/{p.stem}.wav", excerpt(x, 10, rng), "music", "clean", group(p))

    music_list = list(music_x.values())
    noise_list = list(noise_x.values()) or [rng.standard_normal(RATE * 10).astype(np.float32) * 0.1]

    def bed_for(n: int, pool_list: list[np.ndarray]) -> np.ndarray:
        x = pool_list[int(rng.integers(len(pool_list)))]
        return np.resize(excerpt(x, n / RATE, rng), n)

    # hard: speech over music beds
    for snr in BED_SNRS_DB:
        for p, x in speech_x.items():
            s = excerpt(x, 10, rng)
            write(
                f"hard/speech-over-music-{snr:+d}dB/{p.stem}.wav",
                mix(s, bed_for(len(s), music_list), snr),
                "speech",
                f"speech over music {snr:+d} dB",
                group(p),
            )
    # hard: reverberant speech in noise; music in noise
    for p, x in speech_x.items():
        s = reverberate(excerpt(x, 10, rng), RATE, rng)
        write(
            f"hard/speech-reverb-noise/{p.stem}.wav",
            mix(s, bed_for(len(s), noise_list), float(rng.uniform(5, 15))),
            "speech",
            "reverberant speech in noise",
            group(p),
        )
    for p, x in music_x.items():
        m = excerpt(x, 10, rng)
        write(
            f"hard/music-noise/{p.stem}.wav",
            mix(m, bed_for(len(m), noise_list), float(rng.uniform(5, 15))),
            "music",
            "music in noise",
            group(p),
        )
    # hard: 2 s excerpts
    for label, items in (("speech", speech_x), ("music", music_x)):
        for p, x in items.items():
            write(f"hard/excerpt-2s/{label}/{p.stem}.wav", excerpt(x, 2, rng), label, "2 s excerpts", group(p))
    # hard: codecs
    for name, (args, container) in CODECS.items():
        for label, items in (("speech", speech_x), ("music", music_x)):
            for p, x in list(items.items())[:: 2 if not quick else 1]:
                y = codec(excerpt(x, 10, rng), args, container)
                write(f"hard/codec-{name}/{label}/{p.stem}.wav", y, label, f"codec {name}", group(p))

    # programmes: alternating speech and music
    n_programmes = 2 if quick else 8
    spk, mus = list(speech_x.items()), list(music_x.items())
    for k in range(n_programmes):
        total_s = float(rng.uniform(120, 240)) if not quick else 40.0
        parts, truth, t = [], [], 0.0
        label = "speech" if k % 2 == 0 else "music"
        while t < total_s:
            seconds = float(rng.uniform(10, 40)) if not quick else 10.0
            src = spk if label == "speech" else mus
            p, x = src[int(rng.integers(len(src)))]
            seg = np.resize(excerpt(x, seconds, rng), int(seconds * RATE))
            fade = k % 2 == 1 and bool(parts)  # odd programmes crossfade 2 s, even ones cut
            parts.append((seg, fade))
            truth.append({"start_s": t, "end_s": t + seconds, "label": label})
            t += seconds
            label = "music" if label == "speech" else "speech"
        y = np.zeros(int(t * RATE) + RATE, np.float32)
        pos = 0
        for seg, fade in parts:
            seg = seg * np.float32(10 ** (rng.uniform(-12, 0) / 20) / max(1e-6, float(np.max(np.abs(seg)))))
            if fade:
                n = 2 * RATE
                ramp = np.linspace(0, 1, n, dtype=np.float32)
                seg = seg.copy()
                seg[:n] *= ramp
                y[pos : pos + n] *= 1 - ramp
            y[pos : pos + len(seg)] += seg
            pos += len(seg)
        y = y[:pos]
        rel = f"programmes/programme-{k + 1}.wav"
        write(rel, y, "programme", "programmes", f"programme-{k + 1}")
        (out / rel).with_suffix(".json").write_text(json.dumps({"segments": truth, "crossfade_s": 2 if k % 2 else 0}))

    # silence
    write("silence/digital.wav", np.zeros(10 * RATE, np.float32), "silence", "silence", "silence")
    hiss = rng.standard_normal(10 * RATE).astype(np.float32) * np.float32(10 ** (-70 / 20))
    write("silence/hiss-70dBFS.wav", hiss, "silence", "silence", "silence")
    room = np.convolve(rng.standard_normal(10 * RATE), np.ones(40) / 40, mode="same").astype(np.float32)
    room *= np.float32(10 ** (-62 / 20) / (np.sqrt(np.mean(room**2)) or 1))
    write("silence/room-tone-62dBFS.wav", room, "silence", "silence", "silence")

    with (out / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "category", "group"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    rows = build(args.pool, args.out, args.seed, args.quick)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    for category, n in counts.items():
        print(f"{category}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
