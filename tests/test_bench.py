"""The benchmarks run (in their quick mode, through the one command) so they never rot; their figures are for
people, not asserts: nothing here checks a time."""

import subprocess
import sys

import pytest

from .conftest import REPO


@pytest.mark.slow  # about 10 minutes, the peers included
def test_the_bench_command_runs_every_benchmark_quickly_and_prints_its_tables(tmp_path):
    out = tmp_path / "bench.md"
    proc = subprocess.run(
        [str(REPO / "bench" / "run.sh"), "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text()
    assert text == proc.stdout
    for heading in (
        "## GTZAN cross-validation",
        "## Out-of-domain devset",
        "## Export parity",
        "## Throughput and accuracy beside the peers",
        "## Where the time goes",
        "## Real-world accuracy per category",
        "## Programmes (alternating speech and music, cuts and crossfades)",
        "## Sung voices",
        "## Sung clips made from the dev split",
        "## One long file",
        "## App start-up and memory",
        "## Training on GTZAN",
        "## Live: a change in the audio -> the verdict changes",
        "## Live verdicts on joined clips (no device)",
        "## Live: CPU while listening to real audio",
        "## Playback: the playhead against what is heard",
        "## Long run: live mode for",
        "## Long run: a 4-minute file classified 3 times in one process",
        "## Archives: hours of audio on 1 and 2 processes and a two-node cluster",
        "## Archives: the cost of a file",
        "## Goals",
    ):
        assert heading in text, heading
    for peer in ("inaSpeechSegmenter 0.8.0", "Silero VAD 6.2.3", "pyAudioAnalysis 0.3.14", "WebRTC VAD"):
        assert f"| {peer}" in text  # each peer ran, in its own venv, on the same files
    assert "| cpu |" in text and "| commit |" in text and "`./bench/run.sh --quick" in text
    assert "| seed's baseline recipe |" in text  # trained by the accuracy bench, measured beside ours
    assert "| Ray: head + 1 node, 1 CPU each (`--cluster`) |" in text  # the archive bench ran on a real cluster
    assert "FAILED" not in text


def test_the_peers_never_enter_the_project_venv():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.util as u; print([m for m in ('inaSpeechSegmenter', 'silero_vad', "
            "'pyAudioAnalysis', 'webrtcvad', 'torch') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "[]"
