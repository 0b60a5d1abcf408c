"""Train the shipped model from GTZAN and the training pool and write it, with its exports, to resources/models/.

    ./scripts/make_model.sh      # builds the pool if needed (scripts/build_pool.sh), then runs this

The recipe is `musicspeech.core.recipes.SHIPPED`. Data: GTZAN folds 2-5 of the same seeded 5-fold split that
`bench/accuracy.py` cross-validates, and the pool's `train` split (docs/POOL.md: real speech, music and noise
from Debian packages; its `dev` split is never trained on: bench/realworld.py measures on it). Held out for
early stopping and for the evaluation recorded in the bundle: GTZAN fold 1 (26 clips, which the tests classify)
and one pool clip in ten. The bundle records the exact data (a SHA-256
over every file's name and contents), the settings, the seed, the package versions and this command.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from musicspeech.core.datasets import Dataset, from_folder, k_folds, load_clips, split_train_val  # noqa: E402
from musicspeech.core.export import export, parity  # noqa: E402
from musicspeech.core.features import frame_features, windows  # noqa: E402
from musicspeech.core.recipes import SHIPPED  # noqa: E402
from musicspeech.core.training import TrainingListener, train  # noqa: E402

STEM = "musicspeech"


def data_fingerprint(paths: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "gtzan_music_speech")
    parser.add_argument("--pool", type=Path, help="the training pool (scripts/build_pool.sh); none: GTZAN only")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "models")
    parser.add_argument("--seed", type=int, default=SHIPPED.seed)
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    args = parser.parse_args(argv)

    gtzan = from_folder(args.data)
    settings = dataclasses.replace(SHIPPED, seed=args.seed, epochs=args.epochs or SHIPPED.epochs)
    train_clips, val_clips = k_folds(gtzan.clips, 5, settings.seed)[0]
    clips = list(gtzan.clips)
    if args.pool:
        pool = from_folder(args.pool / "train")
        pool_clips = [dataclasses.replace(c, name=f"pool/{c.name}") for c in pool.clips]
        pool_train, pool_val = split_train_val(pool_clips, 0.1, settings.seed)
        train_clips, val_clips = train_clips + pool_train, val_clips + pool_val
        clips += pool_clips
    dataset = Dataset(tuple(clips), source=f"{gtzan.source} + {args.pool / 'train'}" if args.pool else gtzan.source)
    split = (train_clips, val_clips)
    print(f"training the shipped model on {dataset.source}: {dataset.counts()}", flush=True)
    start = time.perf_counter()

    class Progress(TrainingListener):
        def data(self, summary):
            for line in summary.lines():
                print(f"  data: {line}", flush=True)

        def epoch(self, epoch, epochs, logs):
            print(f"  epoch {epoch + 1}/{epochs}: " + " ".join(f"{k} {v:.4f}" for k, v in logs.items()), flush=True)

    fingerprints = {"sha256": data_fingerprint([c.path for c in gtzan.clips], Path(gtzan.source))}
    if args.pool:
        pool_paths = [c.path for c in dataset.clips if c.name.startswith("pool/")]
        fingerprints["pool_sha256"] = data_fingerprint(pool_paths, args.pool / "train")
    result = train(dataset, settings, Progress(), split=split)
    ev = result.evaluation
    print(
        f"held-out fold ({len(ev.clips)} clips): clip accuracy {ev.clip_accuracy:.4f}, "
        f"window accuracy {ev.window_accuracy:.4f}, wrong: {[c.name for c in ev.wrong]}"
    )
    bundle = result.bundle
    bundle.info["data"].update(fingerprints)
    bundle.info["data"]["source"] = "GTZAN music/speech (../shared/data/gtzan_music_speech, 64 music + 64 speech)"
    if args.pool:
        bundle.info["data"]["source"] += f" and the training pool's train split ({len(pool_paths)} clips, docs/POOL.md)"
    bundle.info["data"]["counts"] = dataset.counts()
    bundle.info["recipe"] = "shipped"
    bundle.info["command"] = "scripts/make_model.py " + " ".join(argv if argv is not None else sys.argv[1:])
    path = bundle.save(args.out / f"{STEM}.msmodel")
    print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB) after {time.perf_counter() - start:.0f} s")

    paths = export(bundle, args.out, STEM)
    reference = [c for c in gtzan.clips if c.name.endswith(("/blues.wav", "/acomic.wav", "/jazz.wav", "/news1.wav"))]
    loaded, _ = load_clips(reference, bundle.features.rate_hz)
    spec = bundle.features
    ref_windows = np.concatenate([windows(frame_features(item.waveform.samples, spec), spec) for item in loaded])
    diffs = parity(bundle, paths, ref_windows)
    for p in paths.values():
        print(f"exported {p.name} ({p.stat().st_size / 1e3:.0f} kB)")
    print(
        f"parity on {len(ref_windows)} windows of {len(loaded)} clips: largest probability difference "
        + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
