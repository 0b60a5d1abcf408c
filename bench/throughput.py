"""Classification throughput and accuracy on many clips, ours beside the peers, in one run on the same files.

    .venv/bin/python bench/throughput.py [--quick] [--json PATH] [--accuracy-json PATH] [--baseline-model PATH]

Files: GTZAN's 128 clips (30 s, 22,050 Hz) and the out-of-domain devset's 74 (10 s, 16 kHz). Throughput is
audio seconds per wall-clock second (x real time) for decoding + features + model, after the model is loaded
and warmed up: ours through `Classifier.classify_files` (what the app and the CLI use), each peer through
bench/peer_adapter.py in a subprocess of bench/.peers-venv, one file after another as its API is meant to be used.
Our GTZAN accuracy is the 5-fold cross-validation of bench/accuracy.py (`--accuracy-json`; a model is never
scored on clips it was trained on); the peers never trained on GTZAN. The baseline row is the seed's recipe
trained on all of GTZAN (`--baseline-model`, saved by bench/accuracy.py; trained here if not given).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
import time
from pathlib import Path

from common import (
    GTZAN,
    PEERS_PYTHON,
    ROOT,
    arguments,
    audio_seconds,
    cpu_seconds,
    ensure_devset,
    goal,
    labelled_files,
    median,
    pick,
    spread,
    table,
    write_json,
)

GOAL_X = 2000
PEERS = {"ina": "inaSpeechSegmenter", "silero": "Silero VAD", "pyaa": "pyAudioAnalysis", "webrtc": "WebRTC VAD"}


def ours(classifier, files, runs):
    """Median wall time of classify_files over `files`, CPU time, and the verdicts."""
    paths = [p for p, _ in files]
    list(classifier.classify_files(paths[:4]))  # warm-up: the first forward pass builds the graph
    walls, cpus, labels = [], [], {}
    for _ in range(runs):
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        results = list(classifier.classify_files(paths))
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - cpu0)
        labels = {r.path: (r.prediction.label if r.prediction else None) for r in results}
    return walls, cpus, labels


def stages(classifier, paths):
    """Per clip, one at a time on this thread (the network on LiteRT's threads): decoding, the analyser's windows
    (`musicspeech.core.analysis`) and the network (ms, median over the clips)."""
    import numpy as np

    decode, features, network = [], [], []
    for p in paths:
        t0 = time.perf_counter()
        w = classifier.load(p)
        t1 = time.perf_counter()
        analysis = classifier.analysis()
        feats = np.concatenate([analysis.take(w.samples), analysis.take_end()])
        t2 = time.perf_counter()
        analysis.give(classifier.window_probabilities(feats))
        t3 = time.perf_counter()
        decode.append(t1 - t0), features.append(t2 - t1), network.append(t3 - t2)
    return {k: 1000 * median(v) for k, v in (("decode", decode), ("features", features), ("network", network))}


def peer(name, files, runs):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(str(p) for p, _ in files))
    try:
        proc = subprocess.run(
            [str(PEERS_PYTHON), str(ROOT / "bench" / "peer_adapter.py"), name, f.name, str(runs)],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        Path(f.name).unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"peer {name} failed: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout)


def accuracy(labels: dict, files) -> tuple[int, int]:
    return sum(labels.get(str(p), labels.get(p)) == lab for p, lab in files), len(files)


def cv_right(report: dict, recipe: str) -> tuple[int, int] | None:
    if not report or recipe not in report:
        return None
    confusion = report[recipe]["confusion"]
    return sum(confusion[i][i] for i in range(len(confusion))), sum(map(sum, confusion))


def baseline_classifier(path, quick):
    from musicspeech.core.datasets import from_folder
    from musicspeech.core.inference import Classifier
    from musicspeech.core.recipes import RECIPES
    from musicspeech.core.training import train

    if path and Path(path).is_file():
        return Classifier.from_path(path)
    settings = dataclasses.replace(RECIPES["baseline"], val_fraction=0.0, patience=0)
    dataset = from_folder(GTZAN)
    if quick:
        settings = dataclasses.replace(settings, epochs=1)
        dataset = dataclasses.replace(dataset, clips=dataset.clips[:4] + dataset.clips[-4:])
    return Classifier(train(dataset, settings).bundle)


def main() -> int:
    args = arguments(
        __doc__.splitlines()[0],
        lambda p: (
            p.add_argument("--accuracy-json", type=Path, help="bench/accuracy.py's figures (GTZAN 5-fold CV)"),
            p.add_argument("--baseline-model", type=Path, help="the seed's recipe trained on all of GTZAN"),
        ),
    )
    from musicspeech.core.inference import Classifier
    from musicspeech.core.paths import shipped_model_path

    sets = {"GTZAN": labelled_files(GTZAN), "devset": labelled_files(ensure_devset())}
    if args.quick:
        sets = {name: pick(files, 2) for name, files in sets.items()}
    runs, peer_runs = (1, 1) if args.quick else (5, 2)
    seconds = {name: audio_seconds([p for p, _ in files]) for name, files in sets.items()}
    cv = json.loads(args.accuracy_json.read_text()) if args.accuracy_json and args.accuracy_json.is_file() else {}

    print(f"# throughput ({'quick' if args.quick else 'full'})")
    print(
        "Files: "
        + "; ".join(f"{name} {len(files)} clips, {seconds[name] / 60:.1f} min" for name, files in sets.items())
        + f". Ours: {runs} run(s) after a warm-up; peers: {peer_runs} pass(es) after a first call."
    )
    rows, report = [], {"quick": args.quick, "sets": {k: len(v) for k, v in sets.items()}, "systems": {}}
    systems = {
        "musicspeech (shipped model)": (Classifier.from_path(shipped_model_path()), "shipped"),
        "seed's baseline recipe": (baseline_classifier(args.baseline_model, args.quick), "baseline"),
    }
    for system, (classifier, recipe) in systems.items():
        entry = {}
        for name, files in sets.items():
            walls, cpus, labels = ours(classifier, files, runs)
            right = accuracy(labels, files)
            if name == "GTZAN":  # in-domain: only cross-validated verdicts count
                right = cv_right(cv, recipe)
            entry[name] = {
                "x_real_time": [seconds[name] / w for w in walls],
                "cpu_s_per_audio_h": [c / seconds[name] * 3600 for c in cpus],
                "right": right,
            }
        report["systems"][system] = entry
    for name, title in PEERS.items():
        entry = {}
        for set_name, files in sets.items():
            out = peer(name, files, peer_runs)
            per_run = [sum(f["seconds"][i] for f in out["files"]) for i in range(peer_runs)]
            labels = {f["path"]: f.get("label") for f in out["files"]}
            entry[set_name] = {
                "x_real_time": [seconds[set_name] / s for s in per_run],
                "right": accuracy(labels, files),
                "errors": [f"{Path(f['path']).name}: {f['error']}" for f in out["files"] if "error" in f],
            }
            entry["version"], entry["load_s"] = out["version"], out["load_s"]
        report["systems"][f"{title} {entry['version']}"] = entry

    headers = ["system"] + [f"{n} clips right" for n in sets] + [f"{n} x real time" for n in sets]
    for system, entry in report["systems"].items():

        def right(e):
            if e["right"] is None:
                return "n/a (trained on it; no CV figures given)"
            r, n = e["right"]
            return f"{r}/{n} ({100 * r / n:.1f} %)"

        rows.append(
            [system]
            + [
                right(entry[n]) + (" CV" if n == "GTZAN" and system in systems and entry[n]["right"] else "")
                for n in sets
            ]
            + [spread(entry[n]["x_real_time"], "{:.0f}") for n in sets]
        )
    print("\n## Throughput and accuracy beside the peers")
    print(table(headers, rows))
    print(
        "\nx real time: audio seconds classified per wall-clock second (decoding + features + model; model loading"
        " excluded). GTZAN clips right for our two rows: the pooled 5-fold cross-validation of bench/accuracy.py."
    )
    for system, entry in report["systems"].items():
        for n in sets:
            for err in entry[n].get("errors", []):
                print(f"- {system} failed on {err}")

    shipped = report["systems"]["musicspeech (shipped model)"]
    print("\n## Our CPU time")
    print(
        table(
            ["system", *[f"{n}: CPU s per audio hour" for n in sets]],
            [[s, *[spread(report["systems"][s][n]["cpu_s_per_audio_h"], "{:.1f}") for n in sets]] for s in systems],
        )
    )
    gtzan_paths = [p for p, _ in sets["GTZAN"]][: 4 if args.quick else 32]
    parts = stages(systems["musicspeech (shipped model)"][0], gtzan_paths)
    report["stages_ms"] = parts
    print(f"\n## Where the time goes (shipped model, one file at a time, median over {len(gtzan_paths)} GTZAN clips)")
    print(table(["decode + resample, ms", "features, ms", "network, ms"], [[f"{v:.1f}" for v in parts.values()]]))

    goals = []
    for n in sets:
        mine = median(shipped[n]["x_real_time"])
        my_right = shipped[n]["right"]
        rivals = [
            (s, median(e[n]["x_real_time"]))
            for s, e in report["systems"].items()
            if s not in systems and my_right and e[n]["right"][0] >= my_right[0]
        ]
        faster = all(mine > x for _, x in rivals)
        goals.append(
            goal(
                f"throughput, {n} ({len(sets[n])} clips)",
                f"{mine:.0f}x"
                + (
                    f"; peers at least as accurate: {', '.join(f'{s} {x:.0f}x' for s, x in rivals)}"
                    if rivals
                    else "; no peer as accurate"
                ),
                f">= {GOAL_X}x and faster than every peer at least as accurate",
                mine >= GOAL_X and faster,
            )
        )
    for n in sets:
        r = shipped[n]["right"]
        if r:
            target = 1.0 if n == "GTZAN" else 0.98
            goals.append(
                goal(
                    "accuracy, GTZAN 5-fold CV" if n == "GTZAN" else "accuracy, out-of-domain devset",
                    f"{r[0]}/{r[1]} ({100 * r[0] / r[1]:.1f} %)",
                    f"{target:.0%}" if n == "GTZAN" else ">= 98 %",
                    r[0] / r[1] >= target,
                )
            )
    report["goals"] = goals
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
