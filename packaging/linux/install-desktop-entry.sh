#!/bin/sh
# Adds musicspeech to this user's application menu (no root needed): its icons, and musicspeech.desktop with
# Exec pointing at the program in this folder, so that audio files can be opened with it or dropped on it.
# Run it again after moving the folder.
#   ./install-desktop-entry.sh            add (or update) the menu entry
#   ./install-desktop-entry.sh --remove   take it away again
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
entry=$data/applications/musicspeech.desktop
icons=$data/icons/hicolor

if [ "${1:-}" = --remove ]; then
  rm -f "$entry" "$icons"/*/apps/musicspeech.png "$icons/scalable/apps/musicspeech.svg"
  echo "removed $entry and the icons"
  exit 0
fi
case $here in
  *[\"\`\$\\%]*) echo "please move this folder to a path without \" \` \$ \\ or %: $here" >&2; exit 1 ;;
esac
[ -x "$here/musicspeech" ] || { echo "no musicspeech program in $here" >&2; exit 1; }

for png in "$here"/_internal/resources/icons/musicspeech-*.png; do
  size=${png##*-}
  size=${size%.png}
  mkdir -p "$icons/${size}x$size/apps"
  cp "$png" "$icons/${size}x$size/apps/musicspeech.png"
done
mkdir -p "$icons/scalable/apps" "$data/applications"
cp "$here/_internal/resources/icons/musicspeech.svg" "$icons/scalable/apps/musicspeech.svg"
sed -e "s|^Exec=.*|Exec=\"$here/musicspeech\" %F|" -e "s|^TryExec=.*|TryExec=$here/musicspeech|" \
  "$here/musicspeech.desktop" > "$entry.part"
mv "$entry.part" "$entry"
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$data/applications" || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t "$icons" || true; fi
echo "added $entry"
