"""Train the shipped model from GTZAN and the training pool and write it, with its exports, to resources/models/.

    ./scripts/make_model.sh      # builds the pool if needed (scripts/build_pool.sh), then runs this

Two steps (docs/DISTILLATION.md). First the teacher: `SHIPPED_TEACHER` in `musicspeech.core.recipes`, a head on
YAMNet's embeddings, trained on the data below and saved to `--teacher` (build/teacher.msmodel; an existing file is
used as it is). YAMNet's weights come from `--yamnet` (../shared/models/yamnet) when they are there, else from the
app's folder, downloaded once if missing. Then the shipped model: the recipe `SHIPPED`, whose loss mixes the true
labels with the teacher's probabilities (weight `SHIPPED_TEACHER_WEIGHT`); `--no-teacher` trains the recipe alone.
Only the second model is shipped.

Data: GTZAN folds 2-5 of the same seeded 5-fold split that `bench/accuracy.py` cross-validates, and the pool's
`train` split (docs/POOL.md: real speech, music and noise from Debian packages; its `dev` split is never trained
on: bench/realworld.py measures on it). Held out for the evaluation recorded in the bundle: GTZAN fold 1 (26
clips, which the tests classify) and one pool clip in ten. The bundle records the exact data (a SHA-256 over every
file's name and contents), the settings, the seed, the teacher, the package versions and this command.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from musicspeech.core.datasets import Clip, Dataset, from_folder, k_folds, load_clips, split_train_val  # noqa: E402
from musicspeech.core.export import export, parity  # noqa: E402
from musicspeech.core.features import frame_features, windows  # noqa: E402
from musicspeech.core.recipes import SHIPPED, SHIPPED_TEACHER, SHIPPED_TEACHER_WEIGHT  # noqa: E402
from musicspeech.core.training import Teacher, TrainingListener, train  # noqa: E402

STEM = "musicspeech"


def data_fingerprint(paths: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def training_data(data: Path, pool: Path | None, seed: int) -> tuple[Dataset, tuple[list[Clip], list[Clip]]]:
    """GTZAN (and the pool's `train` split, its clips named pool/...) and the (trained on, held out) split."""
    gtzan = from_folder(data)
    train_clips, val_clips = k_folds(gtzan.clips, 5, seed)[0]
    if not pool:
        return gtzan, (train_clips, val_clips)
    pool_clips = [dataclasses.replace(c, name=f"pool/{c.name}") for c in from_folder(pool / "train").clips]
    pool_train, pool_val = split_train_val(pool_clips, 0.1, seed)
    dataset = Dataset(tuple(gtzan.clips) + tuple(pool_clips), source=f"{gtzan.source} + {pool / 'train'}")
    return dataset, (train_clips + pool_train, val_clips + pool_val)


class Progress(TrainingListener):
    def __init__(self, role: str):
        self.role, self.last = role, {}

    def stage(self, name, done, total):
        now = time.perf_counter()
        if done == total or now - self.last.get(name, 0.0) > 30:
            self.last[name] = now
            print(f"  {self.role} {name}: {done}/{total}", flush=True)

    def data(self, summary):
        for line in summary.lines():
            print(f"  data: {line}", flush=True)

    def epoch(self, epoch, epochs, logs):
        print(
            f"  {self.role} epoch {epoch + 1}/{epochs}: " + " ".join(f"{k} {v:.4f}" for k, v in logs.items()),
            flush=True,
        )


def use_yamnet(folder: Path) -> None:
    """YAMNet's weights for the teacher: `folder` if it has them, else the app's own (downloaded if missing)."""
    from musicspeech.core import yamnet

    if yamnet.have_weights(folder):
        os.environ["MUSICSPEECH_YAMNET_DIR"] = str(folder)
    elif not yamnet.have_weights():
        print(f"downloading YAMNet's weights into {yamnet.weights_dir()} ...", flush=True)
        yamnet.download_weights()


def make_teacher(path: Path, dataset: Dataset, split, seed: int, epochs: int | None) -> Path:
    """Train the teacher and save it to `path`, unless a teacher trained on the same clips is there already."""
    if path.is_file():
        from musicspeech.core.bundle import read_bundle

        taught_on = read_bundle(path).meta["info"]["data"]["train_clips"]
        if taught_on != sorted(c.name for c in split[0]):
            raise SystemExit(
                f"teacher {path} was trained on other clips than this run's: delete it, or name another file "
                "with --teacher, to train a teacher on this data"
            )
        print(f"teacher: using {path} as it is (delete it to train it again)", flush=True)
        return path
    settings = dataclasses.replace(SHIPPED_TEACHER, seed=seed, epochs=epochs or SHIPPED_TEACHER.epochs)
    print(f"teacher: training the YAMNet head on {dataset.source}", flush=True)
    result = train(dataset, settings, Progress("teacher"), split=split)
    ev = result.evaluation
    print(f"teacher held out ({len(ev.clips)} clips): clip accuracy {ev.clip_accuracy:.4f}", flush=True)
    result.bundle.info["recipe"] = "shipped teacher (yamnet, shipped augmentation)"
    result.bundle.info["command"] = "scripts/make_model.py (teacher step)"
    path.parent.mkdir(parents=True, exist_ok=True)
    return result.bundle.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "gtzan_music_speech")
    parser.add_argument("--pool", type=Path, help="the training pool (scripts/build_pool.sh); none: GTZAN only")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "models")
    parser.add_argument("--seed", type=int, default=SHIPPED.seed)
    parser.add_argument("--epochs", type=int, help="the teacher's and the model's (default: the recipes')")
    parser.add_argument(
        "--teacher", type=Path, default=ROOT / "build" / "teacher.msmodel", help="trained there first if missing"
    )
    parser.add_argument("--no-teacher", action="store_true", help="train the recipe alone (no distillation)")
    parser.add_argument("--yamnet", type=Path, default=ROOT.parent / "shared" / "models" / "yamnet")
    args = parser.parse_args(argv)

    settings = dataclasses.replace(SHIPPED, seed=args.seed, epochs=args.epochs or SHIPPED.epochs)
    dataset, split = training_data(args.data, args.pool, SHIPPED.seed)  # the same split whatever the seed
    gtzan_clips = [c for c in dataset.clips if not c.name.startswith("pool/")]
    teacher = None
    start = time.perf_counter()
    if not args.no_teacher:
        use_yamnet(args.yamnet)
        teacher = Teacher.load(
            make_teacher(args.teacher, dataset, split, args.seed, args.epochs), SHIPPED_TEACHER_WEIGHT
        )
        print(f"teacher {teacher.describe()}, weight {teacher.weight}", flush=True)
    print(f"training the shipped model on {dataset.source}: {dataset.counts()}", flush=True)

    fingerprints = {"sha256": data_fingerprint([c.path for c in gtzan_clips], args.data)}
    if args.pool:
        pool_paths = [c.path for c in dataset.clips if c.name.startswith("pool/")]
        fingerprints["pool_sha256"] = data_fingerprint(pool_paths, args.pool / "train")
    result = train(dataset, settings, Progress("student" if teacher else "model"), split=split, teacher=teacher)
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
    reference = [c for c in gtzan_clips if c.name.endswith(("/blues.wav", "/acomic.wav", "/jazz.wav", "/news1.wav"))]
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
