#!/usr/bin/env bash
# Sets everything up (first time only) and runs the whole test suite headless; arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$root/scripts/setup.sh" test
cd "$root"
export QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m pytest "${@:--q}"
