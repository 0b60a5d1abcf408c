"""`classify --cluster` on a real Ray cluster: a head and a second node, each its own processes, in a private
network and process namespace with only loopback (scripts/ray_loopback.sh; the CLI runs inside it too). The
results are those of a local run; a worker killed in the middle of a file costs a retry, not a lost or a
duplicated row. Needs root (unshare) and Ray (musicspeech[cluster], part of the test extra)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .conftest import GTZAN_MUSIC, GTZAN_SPEECH, REPO

KILL_ONE_WORKER = r"""
set -u
out=$1; shift
"$@" & cli=$!
victim=""
for _ in $(seq 6000); do  # for up to a minute: the first worker seen in the middle of a file
  victim=$(ps -eo pid=,args= | awk '$2 == "ray::_classify_on_ray" {print $1; exit}')
  [ -n "$victim" ] && break
  sleep 0.01
done
[ -n "$victim" ] && kill -9 "$victim" && echo "$victim" > "$out.killed"
wait "$cli"
"""


def long_files(folder: Path, n: int, clips_each: int) -> list[Path]:
    """`n` FLAC files of `clips_each` GTZAN clips joined (30 s each), music and speech in turn: work long
    enough that a worker can be caught in the middle of one."""
    import numpy as np
    import soundfile as sf

    clips = sorted(GTZAN_MUSIC.glob("*.wav"))[:8] + sorted(GTZAN_SPEECH.glob("*.wav"))[:8]
    folder.mkdir(parents=True)
    out = []
    for i in range(n):
        parts = [sf.read(clips[(i + k) % len(clips)], dtype="int16")[0] for k in range(clips_each)]
        path = folder / f"long{i:02d}.flac"
        sf.write(path, np.concatenate(parts), 22050)
        out.append(path)
    return out


def in_cluster(*command, timeout=600) -> subprocess.CompletedProcess:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.fail("the cluster tests run as root (unshare makes their private network namespace)")
    tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RAY_USAGE_STATS_ENABLED": "0"}
    env["RAY"] = str(Path(sys.executable).parent / "ray")
    try:
        return subprocess.run(
            [
                "unshare",
                "-n",
                "-p",
                "-f",
                "--mount-proc",
                str(REPO / "scripts" / "ray_loopback.sh"),
                tmp,
                "6399",
                "1",
                *map(str, command),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rows(path: Path) -> dict[str, dict]:
    out = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        assert row["path"] not in out, f"{row['path']} twice"
        out[row["path"]] = {k: v for k, v in row.items() if k not in ("size", "mtime_ns")}
    return out


@pytest.mark.slow
def test_a_two_node_cluster_gives_the_local_results_and_a_killed_worker_costs_a_retry(tmp_path, gtzan_dir):
    files = long_files(tmp_path / "archive", n=8, clips_each=8)  # 8 x 4 min
    bad = tmp_path / "archive" / "notes.mp3"
    bad.write_text("this is not audio")
    local = subprocess.run(
        [sys.executable, "-m", "musicspeech", "classify", tmp_path / "archive", "--jobs", "1", "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert local.returncode == 1  # the bad file
    expected = {r["path"]: r for r in map(json.loads, local.stdout.splitlines())}
    assert len(expected) == len(files) + 1

    out = tmp_path / "cluster.jsonl"
    cli = [sys.executable, "-m", "musicspeech", "classify", tmp_path / "archive", "--output", out]
    proc = in_cluster("bash", "-c", KILL_ONE_WORKER, "kill-one-worker", out, *cli, "--cluster", "127.0.0.1:6399")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the bad file, said in its row
    assert (tmp_path / "cluster.jsonl.killed").is_file(), "no worker was caught in the middle of a file"
    assert "Traceback" not in proc.stderr and "lost with its worker" not in proc.stderr
    assert rows(out) == expected  # each file once, as classified locally, the killed worker's file included

    # --resume on the cluster: only what is missing is classified, nothing is written twice
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:3]))
    proc = in_cluster(*cli, "--resume", "--cluster", "127.0.0.1:6399")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "3 file(s) already in" in proc.stderr
    assert out.read_text().splitlines(keepends=True)[:3] == lines[:3]
    assert rows(out) == expected


def test_an_unreachable_cluster_is_one_clear_line_at_once(music_clip):
    script = 'ip link set lo up && exec "$@"'
    cli = [sys.executable, "-m", "musicspeech", "classify", music_clip, "--cluster", "127.0.0.1:6390"]
    proc = subprocess.run(
        ["unshare", "-n", "bash", "-c", script, "cli", *map(str, cli)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == "error: cannot reach the Ray cluster at 127.0.0.1:6390: connection refused\n"
