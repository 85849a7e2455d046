"""Draw the app icons (a white heart on the app's teal) as PNG files, with only zlib and struct.

Run from anywhere: `python pwa/icons/make_icons.py`. The PNGs are committed; run it again only
when the symbol or colours change.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEAL = (15, 82, 87)  # #0f5257, the theme colour; white on it is 8:1
WHITE = (255, 255, 255)
SAMPLES = 4  # per axis: 16 samples a pixel smooth the edges


def inside_heart(x: float, y: float) -> bool:
    """The classic heart curve (x²+y²-1)³ - x²y³ <= 0, y pointing up; about 2.3 x 2.2 wide."""
    a = x * x + y * y - 1
    return a * a * a - x * x * y * y * y <= 0


def inside_rounded_square(u: float, v: float, radius: float) -> bool:
    """u, v in [0, 1]; a square with corners of `radius` (a fraction of the side)."""
    cx = min(max(u, radius), 1 - radius)
    cy = min(max(v, radius), 1 - radius)
    return (u - cx) ** 2 + (v - cy) ** 2 <= radius * radius


def coverage(size: int, px: int, py: int, test) -> float:
    hits = 0
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            u = (px + (sx + 0.5) / SAMPLES) / size
            v = (py + (sy + 0.5) / SAMPLES) / size
            hits += test(u, v)
    return hits / (SAMPLES * SAMPLES)


def draw(size: int, heart_scale: float, corner: float) -> list[list[tuple[int, ...]]]:
    """Rows of RGBA pixels. heart_scale: the heart's width as a fraction of the icon."""
    rows = []
    half_width = 1.14  # the curve's extent in x

    def heart(u: float, v: float) -> bool:
        x = (u - 0.5) * 2 * half_width / heart_scale
        y = -(v - 0.5) * 2 * half_width / heart_scale + 0.12  # centre the curve vertically
        return inside_heart(x, y)

    def background(u: float, v: float) -> bool:
        return corner == 0 or inside_rounded_square(u, v, corner)

    for py in range(size):
        row = []
        for px in range(size):
            alpha = coverage(size, px, py, background)
            mix = coverage(size, px, py, heart) if alpha else 0.0
            colour = [round(t + (w - t) * mix) for t, w in zip(TEAL, WHITE, strict=True)]
            row.append((*colour, round(255 * alpha)))
        rows.append(row)
    return rows


def png(size: int, rows: list[list[tuple[int, ...]]]) -> bytes:
    """An indexed-colour PNG: two colours and their blends make a few dozen RGBA values, so one
    byte a pixel (a palette with transparency) is about half the size of RGBA."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    # Opaque colours first, teal to white (the order that compresses best, measured).
    palette = sorted({pixel for row in rows for pixel in row}, key=lambda p: (p[3] != 255, p))
    assert len(palette) <= 256, "too many colours for a palette"
    index = {pixel: i for i, pixel in enumerate(palette)}
    # Filter type "none" on each row: smallest for palette images (measured against the others).
    pixels = b"".join(b"\x00" + bytes(index[pixel] for pixel in row) for row in rows)
    alphas = bytes(p[3] for p in palette).rstrip(b"\xff")  # entries past it are opaque
    header = struct.pack(">IIBBBBB", size, size, 8, 3, 0, 0, 0)  # 8-bit palette indices
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"PLTE", b"".join(bytes(p[:3]) for p in palette))
            + (chunk(b"tRNS", alphas) if alphas else b"")
            + chunk(b"IDAT", zlib.compress(pixels, 9)) + chunk(b"IEND", b""))


ICONS = {
    # name: (size, heart width, corner radius); maskable keeps the heart in the safe zone
    "icon-192.png": (192, 0.62, 0.18),
    "icon-512.png": (512, 0.62, 0.18),
    "maskable-512.png": (512, 0.48, 0.0),
    "apple-touch-icon.png": (180, 0.58, 0.0),
}


def main() -> None:
    for name, (size, scale, corner) in ICONS.items():
        (HERE / name).write_bytes(png(size, draw(size, scale, corner)))
        print("wrote", name)


if __name__ == "__main__":
    main()
