"""What every benchmark shares: where the data are, the machine it ran on, statistics and markdown tables.

Conventions (bench/run.py relies on them; a new bench/NAME.py follows them and is picked up by adding NAME to
`run.BENCHES`):
- `python bench/NAME.py [--quick] [--json PATH]`; `--quick` runs in seconds (tests/test_bench.py runs it);
- it prints markdown: `## ` headings and tables, ready to paste into docs/BENCHMARKS.md;
- with `--json` it writes its figures, including `"goals"`: a list of `goal(...)` rows, one per figure with a goal,
  which the runner gathers into the summary table;
- timings: several runs, reported as median with the range; never asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MUSICSPEECH_SHARED", ROOT.parent / "shared"))
GTZAN = SHARED / "data" / "gtzan_music_speech"
DEVSET = Path(os.environ.get("MUSICSPEECH_DEVSET", "/tmp/musicspeech-devset"))
PEERS_PYTHON = ROOT / "bench" / ".peers-venv" / "bin" / "python"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def ensure_devset() -> Path:
    """The out-of-domain devset (../shared/devset), built from Debian packages on first use. Measure only."""
    if not (DEVSET / "labels.csv").is_file():
        print(f"building the devset into {DEVSET} ...", file=sys.stderr, flush=True)
        subprocess.run(["bash", str(SHARED / "devset" / "build.sh"), str(DEVSET)], check=True, stdout=sys.stderr)
    return DEVSET


def labelled_files(root: Path) -> list[tuple[Path, str]]:
    """(path, label) of every clip of a class-per-folder tree, through the app's own reader."""
    from musicspeech.core.datasets import from_folder

    return [(c.path, c.label) for c in from_folder(root).clips]


def pick(files: Sequence[tuple[Path, str]], per_label: int) -> list[tuple[Path, str]]:
    """The first `per_label` files of each label (for --quick)."""
    out = []
    for label in sorted({lab for _, lab in files}):
        out.extend([f for f in files if f[1] == label][:per_label])
    return out


def audio_seconds(paths: Sequence[Path]) -> float:
    import soundfile as sf

    return sum(sf.info(str(p)).duration for p in paths)


# The machine -------------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU, cores, memory, OS, versions, date, commit and load: the header of every result."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or platform.machine(),
    )
    mem_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), 0
    )
    os_name = next(
        (
            line.split("=", 1)[1].strip('"')
            for line in _read("/etc/os-release").splitlines()
            if line.startswith("PRETTY_NAME")
        ),
        platform.platform(),
    )

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    commit = _git("rev-parse", "--short", "HEAD")
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": f"{cpu}{_cpu_generation()}, {os.cpu_count()} cores",
        "memory": f"{mem_kb / 1024**2:.1f} GiB",
        "os": f"{os_name} ({platform.release()})",
        "versions": (
            f"Python {platform.python_version()}, numpy {pkg('numpy')}, TensorFlow {pkg('tensorflow-cpu')}"
            f"{'' if pkg('tensorflow') == '-' else ' / ' + pkg('tensorflow')}, Keras {pkg('keras')}, "
            f"soundfile {pkg('soundfile')}, soxr {pkg('soxr')}, PySide6 {pkg('PySide6-Essentials')}"
        ),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": commit,
        "load": "load average {:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*load),
    }


def _cpu_generation() -> str:
    """Family/model and the widest vector units: "AMD EPYC" names machines whose speed differs twofold (TensorFlow
    and OpenBLAS pick other kernels with and without AVX-512)."""
    fields: dict[str, str] = {}
    for line in _read("/proc/cpuinfo").splitlines():
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    flags = set(fields.get("flags", "").split())
    units = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    if "cpu family" in fields:
        return f" (family {fields['cpu family']} model {fields.get('model', '?')}, {units})"
    return f" ({units})" if flags else ""


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.stdout.strip()


# Figures ------------------------------------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """Median with the range: `1.23 (1.10-1.40, 5 runs)`; one value alone."""
    values = list(values)
    if len(values) == 1:
        return fmt.format(values[0])
    low, mid, high = (fmt.format(v) for v in (min(values), statistics.median(values), max(values)))
    return f"{mid} ({low}-{high}, {len(values)} runs)"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def goal(figure: str, measured: str, target: str, met: bool | None) -> dict:
    """One row of the summary: a figure, what was measured, its goal, and whether it is met (None: not judged)."""
    return {"figure": figure, "measured": measured, "goal": target, "met": met}


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def arguments(description: str, extra=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="seconds instead of minutes (keeps the script alive)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    if extra:
        extra(parser)
    return parser.parse_args()


def write_json(path: Path | None, report: dict) -> None:
    if path:
        path.write_text(json.dumps(report, indent=2, default=str))
