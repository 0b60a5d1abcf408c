"""Every benchmark in one run, printed as markdown (the body of docs/BENCHMARKS.md). Start it with ./bench/run.sh.

    ./bench/run.sh                  # full: about 90 minutes on 2 cores
    ./bench/run.sh --quick          # a minute or two: every script in its quick mode (tests/test_bench.py)
    ./bench/run.sh --out FILE       # also write what it prints to FILE
    ./bench/run.sh --only startup   # some of them (names below)

Runs each bench/NAME.py of `BENCHES` that exists, in order, in its own process, with `--json` to gather its
figures; then prints the goals table from every script's "goals". A script that fails is reported and the
others go on (the exit status is then 1). See bench/common.py for the conventions a new script follows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, table

BENCHES = (
    "accuracy",
    "throughput",
    "realworld",
    "sung",
    "transfer",
    "longfile",
    "startup",
    "training",
    "live",
    "longrun",
    "archive",
)
"""In this order: throughput reads accuracy's cross-validation and its baseline model."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark in its quick mode")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--only", nargs="+", choices=BENCHES, help="run only these")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if (ROOT / "bench" / f"{b}.py").is_file() and (not args.only or b in args.only)]
    output: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        output.append(text)

    start = time.monotonic()
    info = machine()
    command = "./bench/run.sh " + " ".join(sys.argv[1:])
    say(f"# Benchmarks ({'quick' if args.quick else 'full'} run)\n")
    say(table(["", ""], [[k, v] for k, v in {**info, "command": f"`{command.strip()}`"}.items()]))
    goals, failed = [], []
    with tempfile.TemporaryDirectory(prefix="musicspeech-bench-") as tmp:
        tmp_path = Path(tmp)
        for name in chosen:
            json_path = tmp_path / f"{name}.json"
            cmd = [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--json", str(json_path)]
            cmd += ["--quick"] if args.quick else []
            if name == "accuracy":
                cmd += ["--save-baseline", str(tmp_path / "baseline.msmodel")]
            if name == "throughput":
                cmd += ["--accuracy-json", str(tmp_path / "accuracy.json")]
                cmd += ["--baseline-model", str(tmp_path / "baseline.msmodel")]
            say()
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=_env())
            assert proc.stdout is not None
            for line in proc.stdout:
                # each script's "# title" line becomes a level-2 heading, its "## " tables level 3
                line = line.rstrip("\n")
                say("#" + line if line.startswith("#") else line)
            code = proc.wait()
            say(f"\n({name}: {time.monotonic() - t0:.0f} s; load average then {os.getloadavg()[0]:.2f})")
            if code != 0 or not json_path.is_file():
                failed.append(name)
                say(f"\n**{name} FAILED (exit status {code}); its error is on stderr above.**")
                continue
            goals += json.loads(json_path.read_text()).get("goals", [])
    say("\n## Goals\n")
    mark = {True: "yes", False: "**no**", None: "-"}
    say(
        table(
            ["figure", "measured", "goal", "met"],
            [[g["figure"], g["measured"], g["goal"], mark[g["met"]]] for g in goals],
        )
    )
    load = os.getloadavg()
    say(
        f"\nWhole run: {(time.monotonic() - start) / 60:.1f} min; load average at the end {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} (at the start: {info['load']})."
    )
    if failed:
        say(f"\nFailed: {', '.join(failed)}")
    if args.out:
        args.out.write_text("\n".join(output) + "\n")
    return 1 if failed else 0


def _env() -> dict[str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


if __name__ == "__main__":
    raise SystemExit(main())
