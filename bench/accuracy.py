"""Accuracy of the seed's baseline and the shipped recipe, side by side, from one command.

    .venv/bin/python bench/accuracy.py             # full: 5-fold CV of both recipes, devset, segments, exports
    .venv/bin/python bench/accuracy.py --quick     # seconds: 2 folds, 2 epochs, a few clips (keeps the script alive)

Prints:
- GTZAN k-fold cross-validation, grouped by clip: clip accuracy and window accuracy (mean and spread over folds),
  the pooled confusion matrix, and the clips each recipe got wrong; training time per fold. Each fold's figures
  are its training's evaluation: the app's verdicts (music, speech or silence: the analyser with the verdict
  policy) on the held-out clips;
- segment boundaries: held-out speech and music clips of each fold joined (15 s + 15 s), the distance of the
  found change from the true one;
- the out-of-domain devset (../shared/devset, built if missing): the shipped model file, and the baseline
  recipe trained on all of GTZAN, by the app's verdicts too (the confusion's columns: music, speech, silence);
- parity of the shipped model's .keras and .tflite exports with the bundle.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from musicspeech.core.audio import Waveform  # noqa: E402
from musicspeech.core.datasets import from_folder, k_folds, load_clips  # noqa: E402
from musicspeech.core.inference import Classifier  # noqa: E402
from musicspeech.core.model import ModelBundle  # noqa: E402
from musicspeech.core.paths import shipped_model_path  # noqa: E402
from musicspeech.core.recipes import RECIPES as ALL_RECIPES  # noqa: E402
from musicspeech.core.training import evaluate_predictions, train  # noqa: E402

RECIPES = {name: ALL_RECIPES[name] for name in ("baseline", "shipped")}  # the YAMNet one: bench/transfer.py

GTZAN = ROOT.parent / "shared" / "data" / "gtzan_music_speech"
DEVSET_SCRIPT = ROOT.parent / "shared" / "devset" / "build.sh"
DEVSET = Path("/tmp/musicspeech-devset")


def cross_validate(name, settings, dataset, k, seed, quick):
    folds = k_folds(dataset.clips, k, seed)
    rows, outcomes, boundaries = [], [], []
    for i, (train_clips, val_clips) in enumerate(folds):
        if quick:
            train_clips = train_clips[:4] + train_clips[-4:]
        start = time.perf_counter()
        result = train(dataset, settings, split=(train_clips, val_clips))
        seconds = time.perf_counter() - start
        ev = result.evaluation
        rows.append(
            {
                "fold": i,
                "clip_accuracy": ev.clip_accuracy,
                "window_accuracy": ev.window_accuracy,
                "epochs": result.epochs_run,
                "seconds": seconds,
            }
        )
        outcomes.extend(ev.clips)
        boundaries.extend(boundary_errors(Classifier(result.bundle), val_clips, quick))
        print(
            f"  {name} fold {i + 1}/{k}: clip {ev.clip_accuracy:.3f} window {ev.window_accuracy:.4f} "
            f"({result.epochs_run} epochs, {seconds:.0f} s)",
            flush=True,
        )
    labels, called = dataset.labels, ev.called  # rows: true label; columns: the verdicts (with silence)
    confusion = np.zeros((len(labels), len(called)), int)
    for o in outcomes:
        confusion[labels.index(o.true_label), called.index(o.predicted)] += 1
    return {
        "folds": rows,
        "called": list(called),
        "confusion": confusion.tolist(),
        "wrong": [o.name for o in outcomes if not o.correct],
        "boundary_errors_s": boundaries,
    }


def boundary_errors(classifier, val_clips, quick):
    """Join held-out speech and music clips (15 s each, both orders) and measure where the change is found."""
    speech = [c for c in val_clips if c.label == "speech"]
    music = [c for c in val_clips if c.label == "music"]
    pairs = list(zip(speech, music, strict=False))[: 2 if quick else None]
    errors = []
    rate = classifier.spec.rate_hz
    for s_clip, m_clip in pairs:
        s = s_clip.waveform(rate).samples[: 15 * rate]
        m = m_clip.waveform(rate).samples[: 15 * rate]
        for first, second, label in ((s, m, "music"), (m, s, "speech")):
            p = classifier.classify(Waveform(np.concatenate([first, second]), rate))
            changes = [seg.start_s for seg in p.segments[1:] if seg.label == label]
            errors.append(min((abs(c - 15.0) for c in changes), default=15.0))
    return errors


def devset_accuracy(classifier, devset):
    outcomes = [(c, p) for c, p, _ in classifier.classify_clips(devset.clips) if p is not None]
    return evaluate_predictions(classifier.labels, outcomes)


def spread(values):
    values = list(values)
    return f"{statistics.mean(values):.4f} ± {statistics.pstdev(values):.4f}" if values else "n/a"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="accuracy of the baseline and shipped recipes")
    parser.add_argument("--quick", action="store_true", help="a few seconds: 2 folds, 2 epochs, few clips")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--save-baseline", type=Path, help="save the baseline trained on all of GTZAN here")
    args = parser.parse_args(argv)
    k = 2 if args.quick else args.folds

    dataset = from_folder(GTZAN)
    if args.quick:
        dataset = dataclasses.replace(
            dataset, clips=tuple(c for c in dataset.clips if c.name.split("/")[1] < "c" or c.name.endswith("1.wav"))
        )
    print(f"# accuracy ({'quick' if args.quick else 'full'}), {platform.node()}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"GTZAN: {dataset.counts()}; {k}-fold CV grouped by clip, seed {args.seed}")
    report = {"quick": args.quick, "folds": k}
    for name, settings in RECIPES.items():
        if args.quick:
            settings = dataclasses.replace(settings, epochs=2, augment=dataclasses.replace(settings.augment, copies=0))
        report[name] = cross_validate(name, settings, dataset, k, args.seed, args.quick)

    print("\n## GTZAN cross-validation")
    print(
        "| recipe | clip accuracy | window accuracy | confusion (rows true music, speech; columns called music, "
        "speech, silence) | boundary error s "
        "(mean / max) | train s per fold |"
    )
    print("|---|---|---|---|---|---|")
    for name in RECIPES:
        r = report[name]
        b = r["boundary_errors_s"]
        print(
            f"| {name} | {spread(f['clip_accuracy'] for f in r['folds'])} | "
            f"{spread(f['window_accuracy'] for f in r['folds'])} | {r['confusion']} | "
            f"{statistics.mean(b):.2f} / {max(b):.2f} | {statistics.mean(f['seconds'] for f in r['folds']):.0f} |"
        )
        if r["wrong"]:
            print(f"  {name} got wrong: {', '.join(r['wrong'])}")

    if not (DEVSET / "labels.csv").is_file():
        print(f"building the devset into {DEVSET} ...", flush=True)
        subprocess.run(["bash", str(DEVSET_SCRIPT), str(DEVSET)], check=True, stdout=subprocess.DEVNULL)
    devset = from_folder(DEVSET)
    if args.quick:
        devset = dataclasses.replace(devset, clips=devset.clips[:3] + devset.clips[-3:])
    print(f"\n## Out-of-domain devset ({devset.counts()})")
    print("| model | clip accuracy | window accuracy | confusion | wrong |")
    print("|---|---|---|---|---|")
    shipped_path = shipped_model_path()
    models = {}
    if shipped_path.is_file():
        models["shipped model file"] = Classifier(ModelBundle.load(shipped_path))
    baseline = RECIPES["baseline"]
    if args.quick:
        baseline = dataclasses.replace(baseline, epochs=1)
    result = train(dataset, dataclasses.replace(baseline, val_fraction=0.0, patience=0))
    models["baseline recipe (all GTZAN)"] = Classifier(result.bundle)
    if args.save_baseline:
        result.bundle.save(args.save_baseline)
    report["devset"] = {}
    for name, classifier in models.items():
        ev = devset_accuracy(classifier, devset)
        report["devset"][name] = {
            "clip_accuracy": ev.clip_accuracy,
            "window_accuracy": ev.window_accuracy,
            "called": list(ev.called),
            "confusion": ev.confusion,
            "wrong": [c.name for c in ev.wrong],
        }
        print(
            f"| {name} | {ev.clip_accuracy:.4f} | {ev.window_accuracy:.4f} | {ev.confusion} | "
            f"{', '.join(c.name for c in ev.wrong) or '-'} |"
        )

    if shipped_path.is_file():
        exports = {
            kind: shipped_path.with_name(f"musicspeech{suffix}")
            for kind, suffix in (("keras", ".keras"), ("tflite", ".tflite"))
        }
        if all(p.is_file() for p in exports.values()):
            from musicspeech.core.export import parity
            from musicspeech.core.features import frame_features, windows

            bundle = models["shipped model file"].bundle
            clips = [c for c in dataset.clips if c.name.split("/")[1] in ("blues.wav", "acomic.wav")]
            loaded, _ = load_clips(clips, bundle.features.rate_hz)
            ref = np.concatenate(
                [windows(frame_features(x.waveform.samples, bundle.features), bundle.features) for x in loaded]
            )
            diffs = parity(bundle, exports, ref)
            report["parity"] = diffs
            print(
                f"\n## Export parity ({len(ref)} windows): largest probability difference "
                + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
