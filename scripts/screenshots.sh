#!/usr/bin/env bash
# Screenshots of each tab in a real X11 window under Xvfb, into docs/ (see scripts/screenshots.py).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" test
exec xvfb-run -a -s "-screen 0 1700x1100x24" env QT_QPA_PLATFORM=xcb "$root/.venv/bin/python" "$root/scripts/screenshots.py"
