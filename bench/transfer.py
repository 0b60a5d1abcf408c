"""The YAMNet-embeddings recipe from a few clips: train on N music + N speech GTZAN clips, classify the rest.

    .venv/bin/python bench/transfer.py [--quick] [--json PATH] [--per-class N] [--weights FOLDER] [--pool POOL]
        [--save MODEL]

The recipe a user would run on a few dozen of their own clips (`core.recipes.YAMNET`: YAMNet frozen, a small head
trained on its embeddings). Trained on N clips of each class picked at random (seeded) from GTZAN; judged on
every other GTZAN clip and, when the training pool's dev split is there (../pool/dev: packages no model here
trained on), on its music and speech clips too, beside the shipped model on the same files. Speed: classify
of those files in one process, x real time (wall, after a warm-up). YAMNet's weights: `--weights` (default:
../shared/models/yamnet), the same file the app downloads.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from common import GTZAN, ROOT, SHARED, arguments, audio_seconds, goal, table, write_json

POOL = Path(os.environ.get("MUSICSPEECH_POOL", ROOT.parent / "pool"))


def pick_clips(per_class: int, seed: int = 0):
    from musicspeech.core.datasets import Dataset, from_folder

    data = from_folder(GTZAN)
    rng = random.Random(seed)
    train = []
    for label in data.labels:
        clips = sorted((c for c in data.clips if c.label == label), key=lambda c: c.name)
        train += rng.sample(clips, per_class)
    names = {c.name for c in train}
    held_out = [c for c in data.clips if c.name not in names]
    return Dataset(tuple(train), data.source), held_out


def score(classifier, files: list[tuple[Path, str]]) -> dict:
    paths = [p for p, _ in files]
    list(classifier.classify_files(paths[:2]))  # warm-up
    t0 = time.perf_counter()
    results = list(classifier.classify_files(paths))
    wall = time.perf_counter() - t0
    per_label: dict[str, list[int]] = {}
    wrong = []
    for r, (path, label) in zip(results, files, strict=True):
        ok = r.prediction is not None and r.prediction.label == label
        per_label.setdefault(label, [0, 0])
        per_label[label][0] += ok
        per_label[label][1] += 1
        if not ok:
            wrong.append(f"{path.name}: {r.prediction.label if r.prediction else r.error}")
    right = sum(v[0] for v in per_label.values())
    return {
        "accuracy": right / max(1, len(files)),
        "per_label": {k: f"{v[0]}/{v[1]}" for k, v in per_label.items()},
        "files": len(files),
        "x_real_time": audio_seconds(paths) / wall,
        "wrong": wrong,
    }


def main(argv=None) -> int:
    args = arguments(
        __doc__,
        lambda p: (
            p.add_argument("--per-class", type=int, default=16),
            p.add_argument("--weights", type=Path, default=SHARED / "models" / "yamnet"),
            p.add_argument("--pool", type=Path, default=POOL),
            p.add_argument("--save", type=Path, help="save the trained model here (for bench/realworld.py --model)"),
            p.add_argument("--copies", type=int, help="augmented copies of each clip (default: the recipe's)"),
            p.add_argument("--beds", type=float, help="share of speech copies with music under them"),
        ),
    )
    os.environ["MUSICSPEECH_YAMNET_DIR"] = str(args.weights)
    from musicspeech.core.inference import Classifier
    from musicspeech.core.recipes import recipe_settings
    from musicspeech.core.self_test import shipped_model_path
    from musicspeech.core.training import train

    per_class = 4 if args.quick else args.per_class
    dataset, held_out = pick_clips(per_class)
    settings = recipe_settings("yamnet", val_fraction=0.0)
    if args.copies is not None or args.beds is not None:
        from dataclasses import replace

        augment = replace(settings.augment, copies=settings.augment.copies if args.copies is None else args.copies)
        augment = replace(augment, bed_probability=args.beds if args.beds is not None else augment.bed_probability)
        settings = replace(settings, augment=augment)
    t0 = time.perf_counter()
    result = train(dataset, settings)
    train_s = time.perf_counter() - t0
    if args.save:
        result.bundle.save(args.save)
    ours = Classifier(result.bundle)
    shipped = Classifier.from_path(shipped_model_path())

    sets = {"GTZAN, the other clips": [(c.path, c.label) for c in held_out[:: 8 if args.quick else 1]]}
    dev = args.pool / "dev"
    if (dev / "speech").is_dir():
        files = [(p, label) for label in ("music", "speech") for p in sorted((dev / label).glob("*.wav"))]
        sets["pool dev split (music, speech)"] = files[:: 20 if args.quick else 1]
    report: dict = {
        "per_class": per_class,
        "train_clips": len(dataset.clips),
        "train_seconds": round(train_s, 1),
        "epochs_run": result.epochs_run,
        "sets": {},
    }
    rows = []
    for name, files in sets.items():
        a, b = score(ours, files), score(shipped, files)
        report["sets"][name] = {"yamnet": a, "shipped": b}
        rows.append(
            [
                name,
                a["files"],
                f"{a['accuracy']:.1%} ({', '.join(f'{k} {v}' for k, v in a['per_label'].items())})",
                f"{b['accuracy']:.1%}",
                f"{a['x_real_time']:,.0f}x",
                f"{b['x_real_time']:,.0f}x",
            ]
        )
    first = report["sets"]["GTZAN, the other clips"]["yamnet"]
    report["goals"] = [
        goal(
            f"YAMNet recipe from {2 * per_class} clips: held-out GTZAN",
            f"{first['accuracy']:.1%}",
            "learns a good model from a few dozen clips",
            None,
        )
    ]
    heading = f"## YAMNet embeddings from {2 * per_class} GTZAN clips"
    print(f"{heading} ({train_s:.0f} s to train, {result.epochs_run} epochs)")
    print()
    print(
        table(
            ["files", "n", "YAMNet recipe", "shipped model", "YAMNet recipe speed", "shipped speed"],
            rows,
        )
    )
    for name, r in report["sets"].items():
        if r["yamnet"]["wrong"]:
            print(f"\nwrong ({name}, YAMNet recipe): " + "; ".join(r["yamnet"]["wrong"][:30]))
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
