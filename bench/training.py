"""Training on all of GTZAN with the shipped recipe, without and with the feature cache.

    .venv/bin/python bench/training.py [--quick] [--json PATH]

The run `scripts/make_model.sh` makes: the shipped recipe (`core.recipes.SHIPPED`: two augmented copies, up to
30 epochs, early stopping with patience 6, the best epoch's weights kept) on folds 2-5 of the seeded 5-fold
split, validated on fold 1 (26 clips it never trains on). First with an empty feature cache (decoding,
augmentation and features computed, then stored), then again with the cache filled (the same features read
back). Each is one complete `train()` call as the app and the CLI make it (the evaluation after training
included); the table says where the time went, the final evaluation's clip and window accuracy (the app's
verdicts on the held-out clips: the analyser and the verdict policy on the model as saved), and when an epoch's
weights first reached 98 % validation accuracy, clips (each held-out clip called by the mean of its windows: the
monitoring figure, no silence gate or smoothing) and windows, from the validation pass `train()` makes after
every epoch. --quick: 4 + 4 clips, 1 epoch.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time

from common import GTZAN, arguments, goal, table, write_json

GOAL_COLD_S, GOAL_CACHED_S, TARGET = 60.0, 30.0, 0.98


def one_run(dataset, settings, split, cache):
    from musicspeech.core.training import TrainingListener, train

    marks = {"start": time.perf_counter()}
    epochs = []

    class Clock(TrainingListener):
        def stage(self, name, done, total):
            marks.setdefault(name, time.perf_counter())

        def batch(self, epoch, batch, batches, logs):
            marks.setdefault("fit", time.perf_counter())

        def epoch(self, epoch, n, logs):
            epochs.append((time.perf_counter(), logs.get("val_clip_accuracy", 0.0), logs.get("val_accuracy", 0.0)))

    result = train(dataset, settings, Clock(), split=split, cache=cache)
    end = time.perf_counter()
    ev = result.evaluation
    first_clips = next((t for t, clips, _ in epochs if clips >= TARGET), None)
    first_windows = next((t for t, _, win in epochs if win >= TARGET), None)
    return {
        "total_s": end - marks["start"],
        "data_s": marks.get("fit", end) - marks["start"],
        "fit_s": end - marks.get("fit", end),
        "epochs": result.epochs_run,
        "seconds_per_epoch": (end - marks.get("fit", end)) / max(1, len(epochs)),
        "clip_accuracy": ev.clip_accuracy,
        "window_accuracy": ev.window_accuracy,
        "clips_98_at_s": None if first_clips is None else first_clips - marks["start"],
        "clips_98_epoch": next((i + 1 for i, (_, c, _) in enumerate(epochs) if c >= TARGET), None),
        "window_98_at_s": None if first_windows is None else first_windows - marks["start"],
    }


def main() -> int:
    args = arguments(__doc__.splitlines()[0])
    from musicspeech.core.datasets import from_folder, k_folds
    from musicspeech.core.feature_cache import FeatureCache
    from musicspeech.core.recipes import SHIPPED

    dataset = from_folder(GTZAN)
    settings = SHIPPED
    split = k_folds(dataset.clips, 5, settings.seed)[0]
    if args.quick:
        train_clips, val_clips = split
        split = (train_clips[:2] + train_clips[-2:], val_clips[:2] + val_clips[-2:])
        settings = dataclasses.replace(settings, epochs=1)
    print(f"# training ({'quick' if args.quick else 'full'})")
    print(
        f"Shipped recipe on {len(split[0])} clips (+ {settings.augment.copies} augmented copies each), validated on "
        f"{len(split[1])} held-out clips; up to {settings.epochs} epochs, patience {settings.patience}."
    )
    with tempfile.TemporaryDirectory(prefix="musicspeech-feature-cache-") as tmp:
        cache = FeatureCache(tmp)
        runs = {"not cached": one_run(dataset, settings, split, cache)}
        runs["cached"] = one_run(dataset, settings, split, cache)
    print("\n## Training on GTZAN")
    rows = []
    for name, r in runs.items():
        clips_at = (
            "not reached" if r["clips_98_at_s"] is None else f"{r['clips_98_at_s']:.1f} (epoch {r['clips_98_epoch']})"
        )
        windows_at = "not reached" if r["window_98_at_s"] is None else f"{r['window_98_at_s']:.1f}"
        rows.append(
            [
                name,
                f"{r['total_s']:.1f}",
                f"{r['data_s']:.1f}",
                f"{r['fit_s']:.1f} ({r['epochs']} epochs, {r['seconds_per_epoch']:.1f} s each)",
                f"{100 * r['clip_accuracy']:.1f} %",
                f"{100 * r['window_accuracy']:.2f} %",
                clips_at,
                windows_at,
            ]
        )
    print(
        table(
            [
                "features",
                "train() wall time, s",
                "until the first batch, s (data, features, network)",
                "fitting, s",
                "validation clip accuracy",
                "validation window accuracy",
                "clip accuracy >= 98 % at, s",
                "window accuracy >= 98 % at, s",
            ],
            rows,
        )
    )
    print(
        "\nOne run each (a complete training is a minute or more); early stopping decides the epochs, the best "
        "epoch's weights are the ones evaluated. The goal is read as the time until a model with >= 98 % "
        "validation clip accuracy exists; the run itself goes on until early stopping, and the goals table "
        "shows its whole length beside it."
    )
    goals = [
        goal(
            f"training on GTZAN to >= 98 % validation clip accuracy, features {name}",
            ("not reached" if r["clips_98_at_s"] is None else f"{r['clips_98_at_s']:.1f} s")
            + f" (the whole run with early stopping: {r['total_s']:.1f} s)",
            f"< {limit:g} s",
            r["clips_98_at_s"] is not None and r["clips_98_at_s"] < limit,
        )
        for (name, r), limit in zip(runs.items(), (GOAL_COLD_S, GOAL_CACHED_S), strict=True)
    ]
    write_json(args.json, {"quick": args.quick, "runs": runs, "goals": goals})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
