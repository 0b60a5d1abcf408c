"""Distillation experiment (issue 14): a YAMNet-head teacher and the shipped network taught by it.

    bench/distill.py teacher --pool /work/pool-final --out /work/distill-out
    bench/distill.py student --pool /work/pool-final --teacher /work/distill-out/teacher.msmodel --out ...
    bench/distill.py shipped --pool /work/pool-final --out ... --seed 1   # the recipe alone: a control

Both train on the data `scripts/make_model.py` uses (GTZAN folds 2-5 of its seeded 5-fold split and the pool's
`train` split; held out: GTZAN fold 1 and one pool clip in ten), so the two models and the shipped one differ
only in recipe. teacher: the `yamnet` recipe (a head on YAMNet's embeddings) with the shipped recipe's
augmentation (the same mixtures, rooms and codecs). student: the `shipped` recipe whose loss mixes the true
labels' cross-entropy with the KL divergence to the teacher's probabilities on every training window, augmented
copies included (`musicspeech.core.training.Teacher`). The models are written to `--out`, never into the
repository; measure them with `bench/realworld.py --model` (docs/DISTILLATION.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_model import Progress, training_data, use_yamnet  # noqa: E402

from musicspeech.core.recipes import SHIPPED, SHIPPED_TEACHER, SHIPPED_TEACHER_WEIGHT  # noqa: E402
from musicspeech.core.training import train  # noqa: E402


class WaitingTeacher:
    """A teacher loaded when first asked (`--wait`): the student's decoding and augmentation run while the
    teacher still trains, and wait for its bundle (saved atomically: once there, it is whole) only then."""

    def __init__(self, path: Path, weight: float, true_only: list[str]):
        self.path, self.weight, self.name, self.teacher = path, weight, path.name, None
        self.true_only = tuple(true_only)

    def _loaded(self):
        if self.teacher is None:
            if not self.path.is_file():
                print(f"  waiting for the teacher {self.path} ...", flush=True)
            while not self.path.is_file():
                time.sleep(10)
            from musicspeech.core.training import Teacher

            self.teacher = Teacher.load(self.path, self.weight, self.true_only)
            print(f"  teacher {self.teacher.describe()}, weight {self.weight}", flush=True)
        return self.teacher

    def columns(self, labels):
        return self._loaded().columns(labels)

    def probabilities(self, samples, starts, span):
        return self._loaded().probabilities(samples, starts, span)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["teacher", "student", "shipped"], help="shipped: the recipe alone (a control)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "gtzan_music_speech")
    parser.add_argument("--pool", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="a folder outside the repository")
    parser.add_argument("--teacher", type=Path, help="student: the teacher's bundle")
    parser.add_argument(
        "--weight", type=float, default=SHIPPED_TEACHER_WEIGHT, help="student: share of the teacher's term in the loss"
    )
    parser.add_argument(
        "--true-only",
        nargs="*",
        default=[],
        metavar="CLASS",
        help="student: classes whose windows learn from the true label alone (docs/DISTILLATION.md: noise)",
    )
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    parser.add_argument("--seed", type=int, default=SHIPPED.seed)
    parser.add_argument("--name", help="file name (default: the role)")
    parser.add_argument("--yamnet", type=Path, default=ROOT.parent / "shared" / "models" / "yamnet")
    parser.add_argument("--wait", action="store_true", help="student: start now, wait for the teacher's bundle")
    args = parser.parse_args(argv)

    base = SHIPPED_TEACHER if args.role == "teacher" else SHIPPED
    settings = dataclasses.replace(base, epochs=args.epochs or base.epochs, seed=args.seed)
    dataset, split = training_data(args.data, args.pool, SHIPPED.seed)  # the same split whatever the seed
    print(f"{args.role}: {dataset.source}: {dataset.counts()}, {len(split[0])} trained on", flush=True)
    teacher = None
    if args.role != "shipped":  # the teacher is a YAMNet head, and teaches through it
        use_yamnet(args.yamnet)
    if args.role == "student":
        teacher = WaitingTeacher(args.teacher, args.weight, args.true_only)
        if not args.wait:
            teacher.columns([])
    start = time.perf_counter()
    extra = {"teacher": teacher} if teacher else {}
    result = train(dataset, settings, Progress(args.role), split=split, **extra)
    ev = result.evaluation
    print(
        f"held out ({len(ev.clips)} clips): clip accuracy {ev.clip_accuracy:.4f}, window accuracy "
        f"{ev.window_accuracy:.4f}, wrong: {[c.name for c in ev.wrong]}",
        flush=True,
    )
    bundle = result.bundle
    bundle.info["recipe"] = {"teacher": "yamnet (shipped augmentation)", "student": "shipped, distilled"}.get(
        args.role, "shipped"
    )
    bundle.info["command"] = "bench/distill.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    path = bundle.save(args.out / f"{args.name or args.role}.msmodel")
    print(f"saved {path} after {time.perf_counter() - start:.0f} s (training {result.seconds:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
