#!/usr/bin/env bash
# Trains the shipped model into resources/models/ (see scripts/make_model.py) from GTZAN
# (../shared/data/gtzan_music_speech) and the training pool (docs/POOL.md), which is built first if missing:
#   ./scripts/make_model.sh            # the pool in ../pool (MUSICSPEECH_POOL chooses another folder)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pool=${MUSICSPEECH_POOL:-$root/../pool}
"$root/scripts/setup.sh" app
if [ ! -f "$pool/manifest.csv" ]; then
  "$root/scripts/build_pool.sh" "$pool"
fi
exec "$root/.venv/bin/python" "$root/scripts/make_model.py" --pool "$pool" "$@"
