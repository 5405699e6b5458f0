"""Draw the app icons (PNG, ICO) into player/static/icons/ with nothing but the standard library.

The icon is a page of text with one line highlighted, on the accent colour: what the player
does. Run it after changing the design and commit the files it writes (the app serves them as
static files; nothing is drawn at run time):

    .venv/bin/python tools/make_icons.py
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync.atomic import write_bytes, write_text  # noqa: E402

OUT = ROOT / "player" / "static" / "icons"

ACCENT = (0x7A, 0x3E, 0x12)
PAGE = (0xFB, 0xF8, 0xF1)
LINE = (0x6B, 0x63, 0x58)
HIGHLIGHT = (0xF6, 0xB9, 0x3B)

# Geometry in units of the icon's side (0..1). The page and lines sit inside the central 80%
# circle, the safe zone of a maskable icon, so a launcher's round mask never cuts them.
PAGE_BOX = (0.24, 0.20, 0.76, 0.80)
LINES = [(0.31, 0.32, 0.69, 0.37), (0.31, 0.45, 0.69, 0.50), (0.31, 0.58, 0.62, 0.63)]
HIGHLIGHT_LINE = 1
CORNER = 0.18  # background corner radius (the square PNGs; maskable launchers crop anyway)


def _inside(x: float, y: float, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= x < box[2] and box[1] <= y < box[3]


def _rounded(x: float, y: float, r: float) -> bool:
    cx = min(max(x, r), 1 - r)
    cy = min(max(y, r), 1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def pixel(x: float, y: float, rounded: bool) -> tuple[int, int, int, int]:
    if rounded and not _rounded(x, y, CORNER):
        return (0, 0, 0, 0)
    for i, box in enumerate(LINES):
        grown = (box[0] - 0.03, box[1] - 0.025, box[2] + 0.03, box[3] + 0.025)
        if i == HIGHLIGHT_LINE and _inside(x, y, grown):
            return (*HIGHLIGHT, 255) if not _inside(x, y, box) else (*LINE, 255)
        if _inside(x, y, box):
            return (*LINE, 255)
    if _inside(x, y, PAGE_BOX):
        return (*PAGE, 255)
    return (*ACCENT, 255)


def png(size: int, rounded: bool = False, samples: int = 3) -> bytes:
    """An RGBA PNG, each pixel the mean of samples x samples points (smooth edges)."""
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter type 0
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(samples):
                for sx in range(samples):
                    c = pixel((px + (sx + 0.5) / samples) / size, (py + (sy + 0.5) / samples) / size, rounded)
                    for k in range(4):
                        acc[k] += c[k]
            row += bytes(round(a / samples**2) for a in acc)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))  # fmt: skip


def ico(images: list[tuple[int, bytes]]) -> bytes:
    """A .ico holding PNG images (every browser since 2010 reads PNG inside ICO)."""
    head = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries, data = b"", b""
    for size, blob in images:
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(blob), offset + len(data))
        data += blob
    return head + entries + data


def svg() -> str:
    def rect(box: tuple[float, float, float, float], fill: tuple[int, int, int], rx: float = 0) -> str:
        x0, y0, x1, y1 = (round(v * 100, 2) for v in box)
        return (f'<rect x="{x0}" y="{y0}" width="{round(x1 - x0, 2)}" height="{round(y1 - y0, 2)}" rx="{rx}" '
                f'fill="#{bytes(fill).hex()}"/>')  # fmt: skip

    parts = [rect((0, 0, 1, 1), ACCENT, CORNER * 100), rect(PAGE_BOX, PAGE)]
    for i, box in enumerate(LINES):
        if i == HIGHLIGHT_LINE:
            parts.append(rect((box[0] - 0.03, box[1] - 0.025, box[2] + 0.03, box[3] + 0.025), HIGHLIGHT))
        parts.append(rect(box, LINE))
    return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">' + "".join(parts) + "</svg>\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for n in (192, 512):
        write_bytes(OUT / f"icon-{n}.png", png(n, samples=2 if n > 200 else 3))
    write_bytes(OUT / "apple-touch-icon.png", png(180))
    small = [(n, png(n, rounded=True, samples=4)) for n in (16, 32)]
    write_bytes(OUT / "favicon.ico", ico(small))
    write_text(OUT / "icon.svg", svg())
    for f in sorted(OUT.iterdir()):
        print(f"{f.relative_to(ROOT)}: {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
