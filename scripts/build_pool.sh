#!/usr/bin/env bash
# Builds the training pool (real music, speech and noise clips from Debian packages). See docs/POOL.md.
# Usage: scripts/build_pool.sh OUT [--limit N] [--only SOURCE,...] [--debs DIR] [--jobs N]
# Installs what is missing (ffmpeg, fluidsynth, espeak-ng; needs root for that), then runs build_pool.py, and
# make_sung.py to add the sung clips made from the pool's own speech and music (with the venv's pyworld).
# Packages are only downloaded (apt-get download) and unpacked (dpkg-deb -x), never installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [[ $1 == -* ]]; then
  echo "usage: $0 OUT [--limit N] [--only SOURCE,...] [--debs DIR] [--jobs N]" >&2
  exit 2
fi
# apt-get download needs package lists; a fresh machine may have none
apt-cache policy ffmpeg 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get -qq update
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v fluidsynth >/dev/null || missing+=(fluidsynth)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
py=python3
[ -x "$here/../.venv/bin/python" ] && py="$here/../.venv/bin/python"
"$py" -c 'import numpy' 2>/dev/null || { echo "numpy is needed ($py)" >&2; exit 1; }
"$py" -c 'import pyworld' 2>/dev/null || "$py" -m pip install -q --disable-pip-version-check -e "$here/..[pool]"
"$py" "$here/build_pool.py" "$@"
exec "$py" "$here/make_sung.py" --pool "$1"
