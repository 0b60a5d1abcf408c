#!/usr/bin/env bash
# Sets everything up (first time only) and starts musicspeech; arguments go to it (files, or a command).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$root/scripts/setup.sh" app
exec "$root/.venv/bin/musicspeech" "$@"
