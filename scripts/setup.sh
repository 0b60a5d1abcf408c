#!/usr/bin/env bash
# Sets up everything the app (or the tests, or the installer build) need on Debian/Ubuntu, idempotently:
#   scripts/setup.sh app        Debian libraries for Qt, PortAudio and ffmpeg; .venv with the app installed
#   scripts/setup.sh installer  the same, plus binutils and PyInstaller (scripts/build_installer.sh)
#   scripts/setup.sh test       all of the above, plus PulseAudio, espeak-ng, sox, Xvfb and the test tools
# A second run with nothing changed takes well under a second: it only checks.
set -euo pipefail

mode=${1:-app}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf 'setup: %s\n' "$*" >&2; }
case $mode in app | installer | test) ;; *) say "usage: scripts/setup.sh [app|installer|test]"; exit 2 ;; esac

# --- Debian packages -------------------------------------------------------------------------------------
app_debs=(ffmpeg libportaudio2 libsndfile1
  libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libglib2.0-0 libfreetype6 libfontconfig1 libdbus-1-3
  fonts-dejavu-core libxcb-cursor0 libxcb-shape0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-randr0 libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1)
installer_debs=(binutils)  # PyInstaller reads and strips libraries with objdump and strip
test_debs=(pulseaudio pulseaudio-utils espeak-ng sox xvfb xauth desktop-file-utils)

debs=("${app_debs[@]}")
[ "$mode" != app ] && debs+=("${installer_debs[@]}")
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
extras=$([ "$mode" = app ] && echo "" || echo "[$mode]")
stamp_value=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)-$mode
stamp_file=$venv/.setup-stamp
if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  say "creating $venv with $python"
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
# A test setup includes the installer's, and both include the app's.
if [ -f "$stamp_file" ]; then
  stamp=$(cat "$stamp_file")
  case "${stamp%-*}:${stamp##*-}:$mode" in
    "${stamp_value%-*}:$mode:$mode" | "${stamp_value%-*}:test:"* | "${stamp_value%-*}:installer:app") exit 0 ;;
  esac
fi
say "installing Python packages into $venv (first time: a minute or two)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".$extras"
echo "$stamp_value" > "$stamp_file"
say "ready"
