#!/usr/bin/env bash
# Builds the double-click app from build_installer.spec: the one-folder app dist/musicspeech/ and, on Linux,
# dist/musicspeech-<version>-linux-<arch>.tar.gz. Sets up what it needs first, as ./run.sh does (Debian
# packages, .venv), plus binutils and PyInstaller in .venv when they are missing.
#   scripts/build_installer.sh [--distpath DIR] [--workpath DIR]     (defaults: dist/ and build/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dist=$root/dist
work=$root/build
while [ $# -gt 0 ]; do
  case $1 in
    --distpath) dist=$(realpath -m "$2"); shift 2 ;;
    --workpath) work=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: scripts/build_installer.sh [--distpath DIR] [--workpath DIR]" >&2; exit 2 ;;
  esac
done
"$root/scripts/setup.sh" installer
cd "$root"

export TF_CPP_MIN_LOG_LEVEL=2  # PyInstaller imports TensorFlow to analyse it: no start-up notices
started_s=$SECONDS
.venv/bin/python -m PyInstaller --noconfirm --log-level WARN --distpath "$dist" --workpath "$work" \
  build_installer.spec
echo "built $dist/musicspeech in $((SECONDS - started_s)) s: $(du -sh "$dist/musicspeech" | cut -f1)"

if [ "$(uname -s)" = Linux ]; then
  version=$(.venv/bin/python -c 'from musicspeech.core import __version__; print(__version__)')
  tarball=$dist/musicspeech-$version-linux-$(uname -m).tar.gz
  tar -C "$dist" -czf "$tarball.part" musicspeech
  mv "$tarball.part" "$tarball"
  echo "packed $tarball: $(du -h "$tarball" | cut -f1)"
fi
