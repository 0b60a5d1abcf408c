#!/usr/bin/env bash
# Trains the shipped model from ../shared/data/gtzan_music_speech into resources/models/ (see scripts/make_model.py).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" app
exec "$root/.venv/bin/python" "$root/scripts/make_model.py" "$@"
