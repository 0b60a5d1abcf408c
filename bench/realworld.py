"""Accuracy on real audio beyond GTZAN, per category, ours beside the peers on the same files in one run.

    .venv/bin/python bench/realworld.py [--quick] [--json PATH] [--model M] [--pool POOL] [--no-peers]

Files: our own dev sets (bench/devsets.py, made from the training pool's dev split: packages the model never
saw; built into a temporary folder), the out-of-domain devset of ../shared/devset, and GTZAN's held-out fold
(the clips the shipped model never trained on). Per category: clip accuracy; for the programmes, frame accuracy
(every 0.1 s), mean boundary error (each true change to the nearest change found) and segments found against
true ones, for files and for the live mode (each programme fed to it in 0.1 s blocks, as a microphone would, with
the app's live settings: every verdict from the past only); silence files must be called silence. Peers run
through bench/peer_adapter.py in their own venv; a peer that knows no silence is not scored on it. Throughput:
ours on every clip file, x real time.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import GTZAN, PEERS_PYTHON, ROOT, arguments, audio_seconds, ensure_devset, goal, table, write_json

POOL = Path(os.environ.get("MUSICSPEECH_POOL", ROOT.parent / "pool"))
PEERS = {"silero": "Silero VAD", "yamnet": "YAMNet", "ina": "inaSpeechSegmenter"}
FRAME_S = 0.1


def ensure_pool(pool: Path, quick: bool, scratch: Path) -> Path:
    """The pool to take dev clips from. Missing: the full run builds it (scripts/build_pool.sh, downloads and
    minutes); the quick run stands in GTZAN's held-out fold for its dev split (seconds, no downloads)."""
    if (pool / "dev" / "speech").is_dir():
        return pool
    if not quick:
        print(f"building the training pool into {pool} ...", flush=True)
        subprocess.run(["bash", str(ROOT / "scripts" / "build_pool.sh"), str(pool)], check=True)
        return pool
    from musicspeech.core.datasets import from_folder, k_folds

    stand_in = scratch / "gtzan-as-pool"
    for clip in k_folds(from_folder(GTZAN).clips, 5, 0)[0][1]:
        target = stand_in / "dev" / clip.label / f"gtzan__{clip.path.stem}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(clip.path)
    return stand_in


def dev_files(pool: Path, out: Path, quick: bool, reuse: bool = False) -> list[dict]:
    """Every labelled file: our dev sets (built, or with `reuse` read from `out` when built there before), the
    shared devset, GTZAN's held-out fold."""
    from devsets import build

    if reuse and (out / "manifest.csv").is_file():
        with (out / "manifest.csv").open() as f:
            built = list(csv.DictReader(f))
    else:
        built = build(pool, out, quick=quick)
    rows = [dict(r, path=str(out / r["path"])) for r in built]
    devset = ensure_devset()
    with (devset / "labels.csv").open() as f:
        shared = list(csv.DictReader(f))
    for r in shared[:: 12 if quick else 1]:
        rows.append({"path": str(devset / r["path"]), "label": r["label"], "category": "shared devset", "group": ""})
    from musicspeech.core.datasets import from_folder, k_folds

    held_out = k_folds(from_folder(GTZAN).clips, 5, 0)[0][1]
    for c in held_out[:: 8 if quick else 1]:
        rows.append({"path": str(c.path), "label": c.label, "category": "GTZAN held-out fold", "group": ""})
    return rows


def programme_scores(truth: list[dict], found: list[dict], duration_s: float) -> dict:
    """Frame accuracy, boundary errors and segment counts of `found` against `truth` (dicts with start_s, end_s,
    label). Silence found inside a programme counts as wrong; boundaries are changes between music and speech."""

    def label_at(segments, t):
        for s in segments:
            if s["start_s"] <= t < s["end_s"]:
                return s["label"]
        return segments[-1]["label"] if segments else None

    times = [i * FRAME_S + FRAME_S / 2 for i in range(int(duration_s / FRAME_S))]
    right = sum(label_at(truth, t) == label_at(found, t) for t in times)
    sounding = [s for s in found if s["label"] in ("music", "speech")]
    changes = [b["start_s"] for a, b in zip(sounding, sounding[1:], strict=False) if a["label"] != b["label"]]
    true_changes = [s["start_s"] for s in truth[1:]]
    errors = [min((abs(c - t) for c in changes), default=duration_s) for t in true_changes]
    return {
        "frame_accuracy": right / max(1, len(times)),
        "boundary_errors_s": errors,
        "segments_found": len(found),
        "segments_true": len(truth),
    }


def live_segments(classifier, path: str) -> list[dict]:
    """The segments the live mode finds in a file played to it as a microphone would (0.1 s blocks, the app's
    live settings and the model's live preset): each decided from the past only."""
    from musicspeech.core.audio import load_audio
    from musicspeech.core.live import LiveAnalyzer, LiveListener, LiveSettings

    class Segments(LiveListener):
        def __init__(self):
            self.found = []

        def segment(self, segment):
            self.found.append(segment.to_dict())

    listener = Segments()
    analyzer = LiveAnalyzer(classifier, LiveSettings(), listener)
    samples = load_audio(path, classifier.spec.rate_hz).samples
    block = classifier.spec.rate_hz // 10
    for start in range(0, len(samples), block):
        analyzer.feed(samples[start : start + block])
    analyzer.finish()
    return listener.found


def run_peer(name: str, paths: list[str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(paths))
    try:
        proc = subprocess.run(
            [str(PEERS_PYTHON), str(ROOT / "bench" / "peer_adapter.py"), name, f.name, "1"],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(proc.stdout)
    finally:
        os.unlink(f.name)


def main(argv=None) -> int:
    args = arguments(
        __doc__,
        lambda p: (
            p.add_argument("--model", type=Path),
            p.add_argument("--pool", type=Path, default=POOL),
            p.add_argument("--no-peers", action="store_true"),
            p.add_argument("--keep", type=Path, help="build the dev sets here and keep them"),
        ),
    )
    from musicspeech.core.inference import Classifier
    from musicspeech.core.self_test import shipped_model_path

    model = args.model or shipped_model_path()
    classifier = Classifier.from_path(model)
    temp = tempfile.TemporaryDirectory(prefix="musicspeech-devsets-")
    out = args.keep or Path(temp.name)
    pool = ensure_pool(args.pool, args.quick, Path(temp.name))
    rows = dev_files(pool, out, args.quick, reuse=bool(args.keep))
    clips = [r for r in rows if r["category"] != "programmes"]
    programmes = [r for r in rows if r["category"] == "programmes"]
    paths = [r["path"] for r in rows]

    list(classifier.classify_files(paths[:4]))  # warm-up
    t0 = time.perf_counter()
    results = {str(r.path): r for r in classifier.classify_files(paths)}
    wall = time.perf_counter() - t0
    seconds = audio_seconds([Path(p) for p in paths])

    systems = {"musicspeech": {p: (r.prediction.label if r.prediction else None) for p, r in results.items()}}
    peer_segments: dict[str, dict] = {}
    if not args.no_peers and PEERS_PYTHON.exists():
        for name in PEERS:
            cached = out / f".peer-{name}.json"  # with --keep: the peers' verdicts on the same files, once
            got = json.loads(cached.read_text()) if args.keep and cached.is_file() else None
            if got is None or [f["path"] for f in got["files"]] != paths:
                got = run_peer(name, paths)
                if args.keep:
                    cached.write_text(json.dumps(got))
            systems[PEERS[name]] = {f["path"]: f.get("label") for f in got["files"]}
            if name == "ina":
                peer_segments = {f["path"]: f.get("segments") for f in got["files"]}

    print(f"# real-world accuracy ({'quick' if args.quick else 'full'}), model {model.name}")
    print(f"{len(clips)} clips and {len(programmes)} programmes, {seconds / 60:.1f} minutes of audio")
    print("\n## Real-world accuracy per category")
    by_category: dict[str, list[dict]] = defaultdict(list)
    for r in clips:
        by_category[r["category"]].append(r)
    report: dict = {"categories": {}, "programmes": {}, "goals": []}
    header = ["category", "files", *systems]
    table_rows = []
    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for category, items in by_category.items():
        row = [category, len(items)]
        for system, verdicts in systems.items():
            scored = [r for r in items if r["label"] != "silence" or system == "musicspeech"]
            if not scored:
                row.append("-")
                continue
            right = sum(verdicts.get(r["path"]) == r["label"] for r in scored)
            row.append(f"{right / len(scored):.1%}")
            report["categories"].setdefault(category, {})[system] = right / len(scored)
            kind = (
                "clean"
                if category in ("clean", "shared devset", "GTZAN held-out fold")
                else "silence"
                if category == "silence"
                else "hard"
            )
            if category == "speech over music +0 dB":
                kind = "hard (0 dB, not in the goal)"
            totals[kind][system][0] += right
            totals[kind][system][1] += len(scored)
        table_rows.append(row)
    print(table(header, table_rows))
    print()
    summary_rows = []
    for kind, per_system in totals.items():
        summary_rows.append(
            [
                kind,
                *(
                    f"{a / b:.1%} ({a}/{b})" if (a := per_system[s][0], b := per_system[s][1])[1] else "-"
                    for s in systems
                ),
            ]
        )
        report.setdefault("summary", {})[kind] = {s: per_system[s] for s in systems}
    print(table(["all of", *systems], summary_rows))

    wrong = [r for r in clips if systems["musicspeech"].get(r["path"]) != r["label"]]
    if wrong:
        print(f"\nmusicspeech got wrong ({len(wrong)}):")
        for r in wrong[:60]:
            res = results[r["path"]]
            got = f"{res.prediction.label} {res.prediction.confidence:.0%}" if res.prediction else res.error
            print(f"- {r['category']}: {Path(r['path']).relative_to(Path(r['path']).parents[1])} -> {got}")

    prog_rows = []
    for system in ("musicspeech", "musicspeech, live preset", "inaSpeechSegmenter"):
        scores = []
        for r in programmes:
            truth = json.loads(Path(r["path"]).with_suffix(".json").read_text())["segments"]
            duration = truth[-1]["end_s"]
            if system == "musicspeech":
                p = results[r["path"]].prediction
                found = [s.to_dict() for s in p.segments] if p else []
            elif system.startswith("musicspeech"):
                found = live_segments(classifier, r["path"])
            else:
                found = [s for s in (peer_segments.get(r["path"]) or []) if s["label"] in ("music", "speech")]
                if not peer_segments:
                    continue
            scores.append(programme_scores(truth, found, duration))
        if not scores:
            continue
        frame = sum(s["frame_accuracy"] for s in scores) / len(scores)
        errors = [e for s in scores for e in s["boundary_errors_s"]]
        found_n, true_n = sum(s["segments_found"] for s in scores), sum(s["segments_true"] for s in scores)
        mean_error = sum(errors) / max(1, len(errors))
        prog_rows.append([system, f"{frame:.1%}", f"{mean_error:.2f}", f"{found_n} / {true_n}"])
        report["programmes"][system] = {
            "frame_accuracy": frame,
            "mean_boundary_error_s": mean_error,
            "segments_found": found_n,
            "segments_true": true_n,
        }
    if prog_rows:
        print("\n## Programmes (alternating speech and music, cuts and crossfades)")
        print(table(["system", "frame accuracy", "mean boundary error s", "segments found / true"], prog_rows))

    speed = seconds / wall
    print(f"\nmusicspeech classified {seconds / 60:.1f} min of audio in {wall:.2f} s: {speed:.0f}x real time")
    ours = report.get("summary", {})
    for kind, target in (("clean", 0.99), ("hard", 0.95), ("silence", 1.0)):
        if kind in ours:
            a, b = ours[kind]["musicspeech"]
            report["goals"].append(
                goal(f"{kind} clips (own dev sets)", f"{a / b:.1%}", f">= {target:.0%}", a / b >= target)
            )
    if "musicspeech" in report["programmes"]:
        prog = report["programmes"]["musicspeech"]
        report["goals"].append(
            goal(
                "programmes: frame accuracy", f"{prog['frame_accuracy']:.1%}", ">= 95%", prog["frame_accuracy"] >= 0.95
            )
        )
        report["goals"].append(
            goal(
                "programmes: mean boundary error",
                f"{prog['mean_boundary_error_s']:.2f} s",
                "<= 1 s",
                prog["mean_boundary_error_s"] <= 1.0,
            )
        )
    report["x_real_time"] = speed
    write_json(args.json, report)
    temp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
