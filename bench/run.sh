#!/usr/bin/env bash
# The one command for the benchmarks: sets up .venv (scripts/setup.sh) and the peers' own venv
# (bench/setup_peers.sh) when needed, then runs every benchmark and prints markdown tables.
#   ./bench/run.sh [--quick] [--out FILE] [--only NAME...]      (arguments go to bench/run.py)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" app
"$root/bench/setup_peers.sh"
cd "$root"
export QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python bench/run.py "$@"
