"""Render the app icon from its hand-drawn SVG into the files each desktop wants:

    .venv/bin/python scripts/make_icons.py      # writes resources/icons/musicspeech-<n>.png, .ico and .icns

PNGs at 16..512 px (Linux, the window icon) are rendered with Qt's QSvgRenderer. The Windows `.ico` and the
macOS `.icns` are containers of those same PNGs, written here with `struct` (both formats allow PNG entries:
ICO since Windows Vista, ICNS since Mac OS X 10.7), so no imaging library is needed.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
PNG_SIZES_PX = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES_PX = (16, 24, 32, 48, 64, 128, 256)  # 256 is the largest an .ico entry can be
ICNS_TYPES = {  # OSType -> size in pixels; the @2x types hold the same pixels as the plain ones above them
    b"icp4": 16,
    b"icp5": 32,
    b"ic11": 32,
    b"icp6": 64,
    b"ic12": 64,
    b"ic07": 128,
    b"ic08": 256,
    b"ic13": 256,
    b"ic09": 512,
    b"ic14": 512,
}


def render_png(renderer: QSvgRenderer, size_px: int) -> bytes:
    """The SVG drawn antialiased on a transparent square of `size_px`, as PNG bytes."""
    image = QImage(size_px, size_px, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """An ICO file: a directory of (size, offset) entries, then the PNGs."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, blobs = b"", b""
    for size_px, png in sorted(pngs.items()):
        side = size_px if size_px < 256 else 0  # 0 means 256
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset + len(blobs))
        blobs += png
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    """An ICNS file: 'icns', the total length, then (type, length, PNG) blocks, big-endian."""
    body = b"".join(ostype + struct.pack(">I", 8 + len(pngs[px])) + pngs[px] for ostype, px in ICNS_TYPES.items())
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write(path: Path, data: bytes) -> None:
    """Write whole, then rename over the old file."""
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=ICONS / "musicspeech.svg")
    parser.add_argument("--out", type=Path, default=ICONS)
    args = parser.parse_args(argv)
    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841 (Qt needs one for painting)
    renderer = QSvgRenderer(str(args.svg))
    if not renderer.isValid():
        sys.exit(f"{args.svg}: not a valid SVG")
    pngs = {size_px: render_png(renderer, size_px) for size_px in PNG_SIZES_PX}
    args.out.mkdir(parents=True, exist_ok=True)
    for size_px, png in pngs.items():
        write(args.out / f"musicspeech-{size_px}.png", png)
    write(args.out / "musicspeech.ico", ico({px: pngs[px] for px in ICO_SIZES_PX}))
    write(args.out / "musicspeech.icns", icns(pngs))
    for path in sorted(args.out.glob("musicspeech*")):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
