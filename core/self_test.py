"""`musicspeech --self-test`: the installed app checks itself without a window. It loads the shipped model,
classifies the shipped samples (`resources/samples/<class>/*`, made by scripts/make_samples.py), prints each
verdict, and passes only if every sample is called its folder's class."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from musicspeech.core import __version__
from musicspeech.core.datasets import from_folder
from musicspeech.core.errors import ModelError
from musicspeech.core.paths import resources_dir, shipped_model_path


def samples_dir() -> Path:
    return resources_dir() / "samples"


def run_self_test(model_path: Path | None = None, samples: Path | None = None, out: TextIO | None = None) -> int:
    """Print one line per sample and a summary; 0 if every sample is right, 1 otherwise. A missing or broken
    model or samples folder raises a `MusicSpeechError` (the CLI prints it and exits 2)."""
    out = out or sys.stdout
    model_path = model_path or shipped_model_path()
    dataset = from_folder(samples or samples_dir())
    where = "frozen app" if getattr(sys, "frozen", False) else "source tree"
    print(f"musicspeech {__version__} self-test ({where}, Python {sys.version.split()[0]})", file=out, flush=True)

    started_s = time.perf_counter()
    from musicspeech.core.inference import Classifier  # TensorFlow loads here

    classifier = Classifier.from_path(model_path)
    print(
        f"model: {classifier.bundle.describe()} from {model_path}, loaded in {time.perf_counter() - started_s:.1f} s",
        file=out,
        flush=True,
    )
    unknown = sorted(set(dataset.labels) - set(classifier.labels))
    if unknown:
        raise ModelError(f"the model knows {', '.join(classifier.labels)}; the samples also have {', '.join(unknown)}")

    right = 0
    results = classifier.classify_files([clip.path for clip in dataset.clips])
    for clip, result in zip(dataset.clips, results, strict=True):
        if result.prediction is None:
            print(f"FAILED  {clip.name}: {result.error}", file=out, flush=True)
            continue
        p = result.prediction
        ok = p.label == clip.label
        right += ok
        expected = "" if ok else f"  (expected {clip.label})"
        print(f"{'ok' if ok else 'WRONG':<7} {p.label:<7} {p.confidence:>5.0%}  {clip.name}{expected}", file=out)
    total = len(dataset.clips)
    passed = right == total
    print(f"self-test {'passed' if passed else 'FAILED'}: {right} of {total} samples right", file=out, flush=True)
    return 0 if passed else 1
