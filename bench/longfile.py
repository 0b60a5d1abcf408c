"""One long file: wall time and peak memory of classifying a 60-minute recording, each run in a fresh process.

    .venv/bin/python bench/longfile.py [--quick] [--json PATH]

The file is made in a temporary folder by joining real GTZAN clips (music and speech in turn, 22,050 Hz 16-bit
WAV, as the clips are) and deleted afterwards; --quick makes a 2-minute one. Each run is a fresh process that
loads the shipped model, warms it up on one second of audio, then classifies the file through
`Classifier.classify_files` (what the CLI and the Classify tab use). Memory: the peak resident size of that
process, and its growth over the size after the warm-up, beside the size of one float32 array of the whole
file at the model's rate (the one full-length array the pipeline is allowed to hold).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import GTZAN, ROOT, arguments, goal, labelled_files, median, peak_rss_mb, spread, table, write_json

GOAL_S = 2.0
WORKING_MB = 100  # allowed on top of the one float32 array: model batches, decoding blocks, feature chunks


def make_long_file(path: Path, minutes: float) -> float:
    """Join GTZAN clips, music and speech in turn, into one WAV of `minutes` (written block by block)."""
    import soundfile as sf

    files = labelled_files(GTZAN)
    music = [p for p, label in files if label == "music"]
    speech = [p for p, label in files if label == "speech"]
    order = [p for pair in zip(music, speech, strict=False) for p in pair]
    target_frames, written = None, 0
    with sf.SoundFile(order[0]) as first:
        rate = first.samplerate
    target_frames = int(minutes * 60 * rate)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as out:
        while written < target_frames:
            for p in order:
                data, r = sf.read(p, dtype="int16")
                assert r == rate, f"{p}: {r} Hz"
                data = data[: target_frames - written]
                out.write(data)
                written += len(data)
                if written >= target_frames:
                    break
    return written / rate


def child(path: str) -> None:
    """In a fresh process: load the shipped model, warm up, classify the file; print JSON."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from musicspeech.core.audio import Waveform
    from musicspeech.core.inference import Classifier
    from musicspeech.core.paths import shipped_model_path

    classifier = Classifier.from_path(shipped_model_path())
    rate = classifier.spec.rate_hz
    classifier.classify(Waveform(np.zeros(rate, np.float32), rate))
    base_mb = peak_rss_mb()
    start = time.perf_counter()
    (result,) = classifier.classify_files([path])
    wall_s = time.perf_counter() - start
    p = result.prediction
    print(
        json.dumps(
            {
                "wall_s": wall_s,
                "peak_rss_mb": peak_rss_mb(),
                "base_rss_mb": base_mb,
                "duration_s": p.duration_s,
                "segments": len(p.segments),
                "windows": len(p.window_probabilities),
                "label": p.label,
            }
        )
    )


def main() -> int:
    args = arguments(__doc__.splitlines()[0], lambda p: p.add_argument("--child", help=None))
    if args.child:
        child(args.child)
        return 0
    minutes, runs = (2.0, 1) if args.quick else (60.0, 3)
    print(f"# long file ({'quick' if args.quick else 'full'})")
    with tempfile.TemporaryDirectory(prefix="musicspeech-long-") as tmp:
        path = Path(tmp) / f"joined-{minutes:g}min.wav"
        duration_s = make_long_file(path, minutes)
        size_mb = path.stat().st_size / 1e6
        outs = []
        for _ in range(runs):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-2000:])
            outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    array_mb = duration_s * 16000 * 4 / 2**20
    walls = [o["wall_s"] for o in outs]
    peaks = [o["peak_rss_mb"] for o in outs]
    growth = [o["peak_rss_mb"] - o["base_rss_mb"] for o in outs]
    print(
        f"A {duration_s / 60:.0f}-minute WAV ({size_mb:.0f} MB, 22,050 Hz 16-bit) of GTZAN clips; {runs} fresh "
        f"process(es); {outs[0]['windows']} windows, {outs[0]['segments']} segments."
    )
    print("\n## One long file")
    print(
        table(
            [
                "wall time, s",
                "x real time",
                "peak RSS, MB",
                "growth over the loaded model, MB",
                "one float32 array of the file at 16 kHz, MB",
            ],
            [
                [
                    spread(walls),
                    spread([duration_s / w for w in walls], "{:.0f}"),
                    spread(peaks, "{:.0f}"),
                    spread(growth, "{:.0f}"),
                    f"{array_mb:.0f}",
                ]
            ],
        )
    )
    report = {
        "quick": args.quick,
        "duration_s": duration_s,
        "runs": outs,
        "float32_array_mb": array_mb,
        "goals": [
            goal(
                f"one {minutes:g}-minute file: wall time",
                f"{median(walls):.2f} s",
                f"< {GOAL_S:g} s" if not args.quick else "(quick: 2 min)",
                median(walls) < GOAL_S * minutes / 60,
            ),
            goal(
                f"one {minutes:g}-minute file: memory growth",
                f"{max(growth):.0f} MB (one float32 array: {array_mb:.0f} MB)",
                f"<= one float32 array + {WORKING_MB} MB",
                max(growth) <= array_mb + WORKING_MB,
            ),
        ],
    }
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
