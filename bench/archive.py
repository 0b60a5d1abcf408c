"""An archive: hours of real audio through `musicspeech classify --output`, with 1 and 2 local worker processes
and on a two-node local Ray cluster.

    .venv/bin/python bench/archive.py [--quick] [--json PATH]

The audio: long WAV files (22,050 Hz, 16-bit mono, as GTZAN) joined from the GTZAN clips in a new order each,
made in a temporary folder and deleted after (full: 40 files of 15 min, 10 hours; quick: 4 of 2.5 min). Each
run is the real command line in a fresh process, wall time from its start to its exit (model loading and worker
start-up included), into a JSON-lines file. Memory: the peak resident memory of each process of the run
(sampled every 0.1 s from /proc). The cluster is scripts/ray_loopback.sh: a head and a second node of one CPU
each, in a private network and process namespace with only loopback (root; skipped otherwise); the command runs
inside it too. Per-file overhead: GTZAN's 128 clips of 30 s against the same audio rate in long files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import GTZAN, ROOT, arguments, goal, median, spread, table, write_json

GOAL_EFFICIENCY = 0.8  # of linear scaling from 1 to 2 processes
CLUSTER_PORT = 6397


def make_archive(folder: Path, files: int, minutes: float) -> float:
    """`files` WAVs of `minutes` each, joined from GTZAN's clips (rotated per file); returns the audio seconds."""
    import numpy as np
    import soundfile as sf

    clips = sorted((GTZAN / "music_speech").glob("*_wav/*.wav"))
    audio = [sf.read(c, dtype="int16")[0] for c in clips]
    per_file = int(minutes * 60 // 30)
    total = 0.0
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        parts = [audio[(i * 7 + k * 13) % len(audio)] for k in range(per_file)]
        x = np.concatenate(parts)
        sf.write(folder / f"tape{i:03d}.wav", x, 22050, subtype="PCM_16")
        total += len(x) / 22050
    return total


def tree_rss(root: int) -> dict[int, tuple[str, float]]:
    """RSS (MB) and name of `root` and every process below it."""
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        rss = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS")), 0.0)
        out[pid] = (cmd, rss)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(x) for x in task.read_text().split()]
    return out


def ray_workers() -> dict[int, tuple[str, float]]:
    """Every Ray task worker process visible here (inside the cluster's process namespace: only its own)."""
    out = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if not cmd.startswith("ray::") or cmd.split()[0] in ("ray::DashboardAgent", "ray::RuntimeEnvAgent"):
                continue
            status = (proc / "status").read_text()
        except OSError:
            continue
        rss = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS")), 0.0)
        out[int(proc.name)] = (cmd, rss)
    return out


def run_cli(folder: Path, out: Path, extra: list[str], cores: str | None = None) -> dict:
    """One run of the command line (on these `cores` only, if given); wall time and the peak RSS of each of its
    processes."""
    out.unlink(missing_ok=True)
    cmd = ["taskset", "-c", cores] if cores else []
    cmd += [sys.executable, "-m", "musicspeech", "classify", str(folder), "--output", str(out), "--quiet", *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks: dict[int, tuple[str, float]] = {}
    while proc.poll() is None:
        sample = tree_rss(proc.pid)
        if "--cluster" in extra:
            sample.update(ray_workers())
        for pid, (name, rss) in sample.items():
            if rss >= peaks.get(pid, ("", 0.0))[1]:
                peaks[pid] = (name, rss)
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {err[-2000:]}")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    driver = peaks.pop(proc.pid, ("", 0.0))[1]
    workers = [rss for name, rss in peaks.values() if "spawn_main" in name or name.startswith("ray::")]
    return {
        "wall_s": wall,
        "files": len(rows),
        "audio_s": sum(r.get("duration_s", 0.0) for r in rows),
        "driver_mb": driver,
        "worker_mb": workers,
        "labels": {r["path"]: r.get("label") for r in rows},
    }


def inside_cluster(folder: Path, out: Path, runs: int) -> None:
    """Run inside the cluster's namespace (by scripts/ray_loopback.sh): the runs on it, as JSON on stdout."""
    results = [run_cli(folder, out, ["--cluster", os.environ["RAY_ADDRESS"]]) for _ in range(runs)]
    print(json.dumps(results))


def on_cluster(folder: Path, out: Path, runs: int) -> list[dict] | str:
    """The runs on a fresh two-node cluster, or why they could not run."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "skipped: the local cluster needs root (unshare)"
    try:
        import ray  # noqa: F401
    except ImportError:
        return "skipped: Ray is not installed (pip install 'musicspeech[cluster]')"
    tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "RAY": str(Path(sys.executable).parent / "ray")}
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["unshare", "-n", "-p", "-f", "--mount-proc", str(ROOT / "scripts" / "ray_loopback.sh"), tmp,
             str(CLUSTER_PORT), "1", sys.executable, __file__, "--inside-cluster", str(folder), str(out), str(runs)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        total = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the cluster runs failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for r in results:
        r["cluster_start_and_stop_s"] = total - sum(x["wall_s"] for x in results)
    return results


def main() -> int:
    def extra(parser):
        parser.add_argument("--inside-cluster", nargs=3, help=None)

    args = arguments(__doc__.splitlines()[0], extra)
    if args.inside_cluster:
        folder, out, runs = args.inside_cluster
        inside_cluster(Path(folder), Path(out), int(runs))
        return 0
    files, minutes, runs = (4, 2.5, 1) if args.quick else (40, 15.0, 3)
    print(f"# archive ({'quick' if args.quick else 'full'})")
    with tempfile.TemporaryDirectory(prefix="musicspeech-archive-") as tmp:
        folder, out = Path(tmp) / "tapes", Path(tmp) / "results.jsonl"
        t0 = time.perf_counter()
        audio_s = make_archive(folder, files, minutes)
        made_s = time.perf_counter() - t0
        size_gb = sum(p.stat().st_size for p in folder.iterdir()) / 1e9
        local = {jobs: [run_cli(folder, out, ["--jobs", str(jobs)]) for _ in range(runs)] for jobs in (1, 2)}
        pinned = [run_cli(folder, out, ["--jobs", "1"], cores="0") for _ in range(runs)]
        cluster = on_cluster(folder, out, runs)
        clips = {jobs: [run_cli(GTZAN, out, ["--jobs", str(jobs)]) for _ in range(runs)] for jobs in (1, 2)}
        (Path(tmp) / "one").mkdir()
        (Path(tmp) / "one" / "blues.wav").symlink_to(GTZAN / "music_speech" / "music_wav" / "blues.wav")
        start = {jobs: [run_cli(Path(tmp) / "one", out, ["--jobs", str(jobs)]) for _ in range(runs)] for jobs in (1, 2)}
    print(
        f"{files} WAV files of {minutes:g} min ({audio_s / 3600:.1f} h of audio, {size_gb:.2f} GB, made in "
        f"{made_s:.0f} s), joined from GTZAN's clips; {runs} run(s) of each, the command line in a fresh process "
        f"into a JSON-lines file, wall time from start to exit. {os.cpu_count()} cores; load average at the start "
        f"of the runs in the machine table."
    )
    reference = pinned[0]["labels"]
    rows, speeds = [], {}
    setups = [
        ("1 process on 1 core (`taskset -c 0 ... --jobs 1`)", pinned),
        ("1 process (`--jobs 1`, its threads on 2 cores)", local[1]),
        ("2 processes (`--jobs 2`)", local[2]),
    ]
    if isinstance(cluster, list):
        setups.append(("Ray: head + 1 node, 1 CPU each (`--cluster`)", cluster))
    for name, results in setups:
        walls = [r["wall_s"] for r in results]
        speeds[name] = [audio_s / w for w in walls]
        same = all(r["labels"] == reference for r in results)
        workers = [mb for r in results for mb in r["worker_mb"]]
        rows.append(
            [
                name,
                spread(walls, "{:.1f}"),
                spread(speeds[name], "{:.0f}"),
                f"{median([r['driver_mb'] for r in results]):.0f}",
                f"{median(workers):.0f} ({len(results[0]['worker_mb'])} processes)" if workers else "-",
                "yes" if same else "**no**",
            ]
        )
    print("\n## Archives: hours of audio on 1 and 2 processes and a two-node cluster")
    print(
        table(
            [
                "setup",
                "wall time, s",
                "x real time",
                "driver peak RSS, MB",
                "peak RSS per worker, MB",
                "same verdicts as 1 process",
            ],
            rows,
        )
    )
    if isinstance(cluster, str):
        print(f"\nCluster: {cluster}.")
    else:
        print(
            f"\nStarting and stopping the two Ray nodes took {cluster[0]['cluster_start_and_stop_s']:.0f} s "
            "(not in the wall times above; each run's own connection to the cluster is)."
        )
    one, threads, two = (median(speeds[name]) for name, _ in setups[:3])
    efficiency = two / (2 * one)
    overhead, starts = {}, {}
    for jobs in (1, 2):
        clip_wall = median([r["wall_s"] for r in clips[jobs]])
        clip_audio = clips[jobs][0]["audio_s"]
        rate = threads if jobs == 1 else two
        start_s = median([r["wall_s"] - r["audio_s"] / rate for r in start[jobs]])
        overhead[jobs] = (clip_wall - start_s - clip_audio / rate) / clips[jobs][0]["files"] * 1000 * jobs
        starts[jobs] = start_s
    print(
        f"\nScaling from 1 process on 1 core to 2 processes on 2 cores: {two / one:.2f}x, an efficiency of "
        f"{efficiency:.0%} of linear. One process alone on both cores (its decoding, windowing and network "
        f"threads overlap): {threads / one:.2f}x."
        + (
            f" The cluster (2 nodes of 1 CPU): {median(speeds[setups[3][0]]) / one:.2f}x one process on 1 core."
            if len(setups) > 3
            else ""
        )
    )
    print("\n## Archives: the cost of a file")
    print(
        table(
            [
                "processes",
                "start-up (one clip), s",
                "128 clips of 30 s: wall time, s",
                "x real time",
                "overhead per file, CPU ms",
            ],
            [
                [
                    jobs,
                    f"{starts[jobs]:.2f}",
                    spread([r["wall_s"] for r in clips[jobs]], "{:.2f}"),
                    f"{clips[jobs][0]['audio_s'] / median([r['wall_s'] for r in clips[jobs]]):.0f}",
                    f"{overhead[jobs]:.0f}",
                ]
                for jobs in (1, 2)
            ],
        )
    )
    print(
        "\nStart-up: the command, its workers and the model, up to the first file (a run on one clip less that "
        "clip's time). Overhead per file: the wall time of the 128 clips less the start-up and what the same audio "
        "takes in long files, per file, times the processes."
    )
    report = {
        "quick": args.quick,
        "audio_s": audio_s,
        "files": files,
        "local": {j: [{k: v for k, v in r.items() if k != "labels"} for r in rs] for j, rs in local.items()},
        "pinned": [{k: v for k, v in r.items() if k != "labels"} for r in pinned],
        "cluster": cluster
        if isinstance(cluster, str)
        else [{k: v for k, v in r.items() if k != "labels"} for r in cluster],
        "x_real_time": {k: median(v) for k, v in speeds.items()},
        "efficiency_1_to_2": efficiency,
        "overhead_ms_per_file": overhead,
        "start_up_s": starts,
        "goals": [
            goal(
                "archive: scaling from 1 to 2 processes (1 core each)",
                f"{efficiency:.0%} of linear",
                f">= {GOAL_EFFICIENCY:.0%}",
                None if args.quick else efficiency >= GOAL_EFFICIENCY,
            ),
        ],
    }
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
