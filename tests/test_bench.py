"""The benchmark scripts run (in their quick mode) so they never rot; their figures are for people, not asserts."""

import json
import subprocess
import sys

from .conftest import REPO


def test_accuracy_bench_quick_mode_prints_every_table(tmp_path):
    out = tmp_path / "accuracy.json"
    proc = subprocess.run(
        [sys.executable, "bench/accuracy.py", "--quick", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for heading in ("## GTZAN cross-validation", "## Out-of-domain devset", "## Export parity"):
        assert heading in proc.stdout
    report = json.loads(out.read_text())
    assert set(report["devset"]) == {"shipped model file", "baseline recipe (all GTZAN)"}
    assert report["parity"]["tflite"] < 1e-4
