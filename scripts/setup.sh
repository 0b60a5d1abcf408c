#!/usr/bin/env bash
# Sets up everything the app (or the tests) need on Debian/Ubuntu, idempotently:
#   scripts/setup.sh app    Debian libraries for Qt, PortAudio and ffmpeg; .venv with the app installed
#   scripts/setup.sh test   the same, plus PulseAudio, espeak-ng, sox, Xvfb and the test tools
# A second run with nothing changed takes well under a second: it only checks.
set -euo pipefail

mode=${1:-app}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------------------
app_debs=(ffmpeg libportaudio2 libsndfile1
  libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libglib2.0-0 libfreetype6 libfontconfig1 libdbus-1-3
  fonts-dejavu-core libxcb-cursor0 libxcb-shape0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-randr0 libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1)
test_debs=(pulseaudio pulseaudio-utils espeak-ng sox xvfb xauth)

debs=("${app_debs[@]}")
[ "$mode" = test ] && debs+=("${test_debs[@]}")

missing=()
if command -v dpkg-query >/dev/null; then
  for pkg in "${debs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
  done
fi
python_ok() { "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
python=""
for candidate in python3 python3.13 python3.12 python3.11; do
  if command -v "$candidate" >/dev/null && python_ok "$candidate"; then python=$(command -v "$candidate"); break; fi
done
if [ -z "$python" ] && command -v dpkg-query >/dev/null; then
  missing+=(python3 python3-venv)  # Debian's python3 lacks venv/ensurepip until python3-venv is installed
fi

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    say "please install with your package manager: ${missing[*]}"
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      say "these Debian packages are missing; install them as root, then run this again:"
      printf '  apt-get update && apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
      exit 1
    fi
  fi
  say "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi
if [ -z "$python" ]; then
  for candidate in python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then python=$(command -v "$candidate"); break; fi
  done
  [ -n "$python" ] || { say "Python 3.11 or newer with venv is needed"; exit 1; }
fi

# --- Python packages in .venv ----------------------------------------------------------------------------
venv=.venv
extras=$([ "$mode" = test ] && echo "[test]" || echo "")
stamp_value=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)-$mode
stamp_file=$venv/.setup-stamp
if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  say "creating $venv with $python"
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
# A test setup also satisfies an app setup.
if [ -f "$stamp_file" ] && { [ "$(cat "$stamp_file")" = "$stamp_value" ] ||
     { [ "$mode" = app ] && [ "$(cat "$stamp_file")" = "${stamp_value%-app}-test" ]; }; }; then
  exit 0
fi
say "installing Python packages into $venv (first time: a minute or two)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".$extras"
echo "$stamp_value" > "$stamp_file"
say "ready"
