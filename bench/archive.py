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


def decoding(folder: Path, tmp: Path) -> list[list[str]]:
    """CPU seconds per hour of audio to decode one tape to the model's rate (what each worker does first), as
    WAV, FLAC and MP3 (written by libsndfile from the same tape)."""
    import resource

    import soundfile as sf

    from musicspeech.core.archive import DECODER_NOISE
    from musicspeech.core.audio import load_audio
    from musicspeech.core.bundle import read_bundle
    from musicspeech.core.paths import shipped_model_path
    from musicspeech.core.quiet import filtered_stderr

    rate = read_bundle(shipped_model_path()).features.rate_hz
    tape = sorted(folder.iterdir())[0]
    x, sr = sf.read(tape, dtype="float32")
    rows = []
    for fmt, name, extra in (("WAV", "tape.wav", {}), ("FLAC", "tape.flac", {}), ("MP3", "tape.mp3", {})):
        path = tmp / name
        sf.write(path, x, sr, format=fmt, **extra)
        cpus = []
        for _ in range(3):
            u0 = resource.getrusage(resource.RUSAGE_SELF)
            with filtered_stderr(DECODER_NOISE):  # mpg123's complaints about libsndfile's own MP3s
                w = load_audio(path, rate)
            u1 = resource.getrusage(resource.RUSAGE_SELF)
            cpus.append(u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime)
        hours = w.duration_s / 3600
        mb_per_hour = path.stat().st_size / 1e6 / hours
        label = "MP3 (libsndfile's default VBR)" if fmt == "MP3" else fmt
        rows.append([f"{label}, 22,050 Hz mono", f"{mb_per_hour:.0f}", spread([c / hours for c in cpus], "{:.2f}")])
        path.unlink()
    return rows


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


def children_cpu() -> float:
    """CPU seconds of the processes this one started and waited for, and of theirs (the CLI's workers)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ray_workers() -> dict[int, tuple[str, float, float]]:
    """Every Ray task worker process visible here (inside the cluster's process namespace: only its own):
    name, RSS (MB) and CPU seconds so far."""
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
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(proc.name)] = (cmd, rss, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def run_cli(folder: Path, out: Path, extra: list[str], cores: str | None = None) -> dict:
    """One run of the command line (on these `cores` only, if given); wall time and the peak RSS of each of its
    processes."""
    out.unlink(missing_ok=True)
    cmd = ["taskset", "-c", cores] if cores else []
    cmd += [sys.executable, "-m", "musicspeech", "classify", str(folder), "--output", str(out), "--quiet", *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks: dict[int, tuple[str, float]] = {}
    ray_cpu: dict[int, float] = {}  # the Ray workers' CPU seconds, as last seen (they are not our children)
    while proc.poll() is None:
        sample = tree_rss(proc.pid)
        if "--cluster" in extra:
            workers = ray_workers()
            sample.update({pid: (name, rss) for pid, (name, rss, _) in workers.items()})
            ray_cpu.update({pid: cpu for pid, (_, _, cpu) in workers.items()})
        for pid, (name, rss) in sample.items():
            if rss >= peaks.get(pid, ("", 0.0))[1]:
                peaks[pid] = (name, rss)
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    driver_cpu = children_cpu() - cpu0  # the command and its worker processes; on a cluster, the driver alone
    cpu = driver_cpu + sum(ray_cpu.values())
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {err[-2000:]}")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    driver = peaks.pop(proc.pid, ("", 0.0))[1]
    workers = [rss for name, rss in peaks.values() if "spawn_main" in name or name.startswith("ray::")]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "driver_cpu_s": driver_cpu,
        "files": len(rows),
        "audio_s": sum(r.get("duration_s", 0.0) for r in rows),
        "driver_mb": driver,
        "worker_mb": workers,
        "labels": {r["path"]: r.get("label") for r in rows},
    }


def inside_cluster(folder: Path, one: Path, out: Path, runs: int) -> None:
    """Run inside the cluster's namespace (by scripts/ray_loopback.sh): the runs on it, as JSON on stdout."""
    address = ["--cluster", os.environ["RAY_ADDRESS"]]
    results = {
        "tapes": [run_cli(folder, out, address) for _ in range(runs)],
        "clips": [run_cli(GTZAN, out, address) for _ in range(runs)],
        "start": [run_cli(one, out, address) for _ in range(runs)],
    }
    print(json.dumps(results))


def on_cluster(folder: Path, one: Path, out: Path, runs: int) -> dict | str:
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
        cluster = ["unshare", "-n", "-p", "-f", "--mount-proc", str(ROOT / "scripts" / "ray_loopback.sh")]
        inside = [sys.executable, __file__, "--inside-cluster", str(folder), str(one), str(out), str(runs)]
        proc = subprocess.run(
            [*cluster, tmp, str(CLUSTER_PORT), "1", *inside],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        total = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the cluster runs failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    results["start_and_stop_s"] = total - sum(x["wall_s"] for runs in results.values() for x in runs)
    return results


def main() -> int:
    def extra(parser):
        parser.add_argument("--inside-cluster", nargs=4, help=None)

    args = arguments(__doc__.splitlines()[0], extra)
    if args.inside_cluster:
        folder, one, out, runs = args.inside_cluster
        inside_cluster(Path(folder), Path(one), Path(out), int(runs))
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
        one = Path(tmp) / "one"
        one.mkdir()
        (one / "blues.wav").symlink_to(GTZAN / "music_speech" / "music_wav" / "blues.wav")
        cluster = on_cluster(folder, one, out, runs)
        clips: dict = {jobs: [run_cli(GTZAN, out, ["--jobs", str(jobs)]) for _ in range(runs)] for jobs in (1, 2)}
        start: dict = {jobs: [run_cli(one, out, ["--jobs", str(jobs)]) for _ in range(runs)] for jobs in (1, 2)}
        if isinstance(cluster, dict):
            clips["cluster"], start["cluster"] = cluster["clips"], cluster["start"]
        decode_rows = decoding(folder, Path(tmp))
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
    if isinstance(cluster, dict):
        setups.append(("Ray: head + 1 node, 1 CPU each (`--cluster`)", cluster["tapes"]))
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
                f"{median([r['cpu_s'] for r in results]) / (audio_s / 3600):.1f}",
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
                "CPU s per hour of audio",
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
            f"\nStarting and stopping the two Ray nodes took {cluster['start_and_stop_s']:.0f} s "
            "(not in the wall times above; each run's own connection to the cluster is)."
        )
    one, threads, two = (median(speeds[name]) for name, _ in setups[:3])
    efficiency = two / (2 * one)
    cpu_per_s = {name: median([r["cpu_s"] for r in results]) / audio_s for name, results in setups}
    cpu_efficiency = cpu_per_s[setups[0][0]] / cpu_per_s[setups[2][0]]
    print(
        f"\nScaling from 1 process on 1 core to 2 processes on 2 cores: {two / one:.2f}x, an efficiency of "
        f"{efficiency:.0%} of linear by wall time; by CPU time per hour of audio (which other work on the machine "
        f"changes less) 2 processes cost {1 / cpu_efficiency:.2f}x what one costs, an efficiency of "
        f"{cpu_efficiency:.0%}. One process alone on both cores (its decoding, windowing and network threads "
        f"overlap): {threads / one:.2f}x."
        + (
            f" The cluster (2 nodes of 1 CPU): {median(speeds[setups[3][0]]) / one:.2f}x one process on 1 core."
            if len(setups) > 3
            else ""
        )
    )
    kinds = [("1 process", 1, setups[1][0]), ("2 processes", 2, setups[2][0])]
    if isinstance(cluster, dict):
        kinds.append(("Ray cluster", "cluster", setups[3][0]))
    cost_rows, overhead = [], {}
    for label, kind, setup in kinds:
        start_cpu = median([r["cpu_s"] - r["audio_s"] * cpu_per_s[setup] for r in start[kind]])
        clip_cpu = median([r["cpu_s"] for r in clips[kind]])
        clip_audio, n = clips[kind][0]["audio_s"], clips[kind][0]["files"]
        overhead[str(kind)] = (clip_cpu - start_cpu - clip_audio * cpu_per_s[setup]) / n * 1000
        driver_ms = (
            median([r["driver_cpu_s"] for r in clips[kind]]) - median([r["driver_cpu_s"] for r in start[kind]])
        ) / (n - 1)
        clip_wall = median([r["wall_s"] for r in clips[kind]])
        cost_rows.append(
            [
                label,
                f"{median([r['wall_s'] for r in start[kind]]):.2f}",
                f"{start_cpu:.2f}",
                spread([r["wall_s"] for r in clips[kind]], "{:.2f}"),
                f"{clip_audio / clip_wall:.0f}",
                f"{overhead[str(kind)]:.0f}",
                f"{driver_ms:.1f}" if kind == "cluster" else "-",
            ]
        )
    print("\n## Archives: the cost of a file")
    print(
        table(
            [
                "setup",
                "one clip: wall time, s",
                "start-up, CPU s",
                "128 clips of 30 s: wall time, s",
                "x real time",
                "overhead per file, CPU ms",
                "the driver's CPU per file, ms",
            ],
            cost_rows,
        )
    )
    print(
        "\nStart-up: the CPU time of a run on one clip less what that clip's audio costs in long files (the "
        "command, its workers and the model; on the cluster, the driver's connection and the Ray workers' start). "
        "Overhead per file: the CPU time of the 128 clips less the start-up and what the same audio costs in long "
        "files, per file. The driver's CPU per file (cluster): the command's own CPU time on the 128 clips less "
        "on one clip, per file."
    )
    print("\n## Archives: decoding by format (one tape, in this process, to the model's rate)")
    print(table(["file", "MB per hour of audio", "CPU s per hour of audio, decoding only"], decode_rows))
    report = {
        "quick": args.quick,
        "decoding": decode_rows,
        "audio_s": audio_s,
        "files": files,
        "local": {j: [{k: v for k, v in r.items() if k != "labels"} for r in rs] for j, rs in local.items()},
        "pinned": [{k: v for k, v in r.items() if k != "labels"} for r in pinned],
        "cluster": cluster
        if isinstance(cluster, str)
        else {
            k: [{f: v for f, v in r.items() if f != "labels"} for r in rs]
            for k, rs in cluster.items()
            if k != "start_and_stop_s"
        },
        "x_real_time": {k: median(v) for k, v in speeds.items()},
        "cpu_s_per_audio_hour": {k: v * 3600 for k, v in cpu_per_s.items()},
        "efficiency_1_to_2": efficiency,
        "cpu_efficiency_1_to_2": cpu_efficiency,
        "overhead_cpu_ms_per_file": overhead,
        "goals": [
            goal(
                "archive: scaling from 1 to 2 processes (1 core each)",
                f"{efficiency:.0%} of linear by wall time, {cpu_efficiency:.0%} by CPU time",
                f">= {GOAL_EFFICIENCY:.0%}",
                None if args.quick else efficiency >= GOAL_EFFICIENCY,
            ),
        ],
    }
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
