"""Turning grid-sized arrays into display images: upscaling, blending, marking the clicked cell."""

from __future__ import annotations

import numpy as np

# Displays are at least this many pixels along the longer side (integer upscaling of the grid).
DISPLAY_SIZE = 320


def display_scale(h: int, w: int) -> int:
    """Integer factor by which an h×w grid is enlarged for display (at least 2, so tree edges show)."""
    return max(2, -(-DISPLAY_SIZE // max(h, w)))


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """``image`` ``(H, W, ...)`` with every cell repeated ``scale``×``scale`` times: ``(H·s, W·s, ...)``."""
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def blend(colours: np.ndarray, rgb: np.ndarray, opacity: float = 0.7) -> np.ndarray:
    """``colours`` ``(H, W, 3)`` uint8 laid over the grey version of ``rgb`` ``(H, W, 3)`` uint8."""
    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    mixed = opacity * colours.astype(np.float32) + (1 - opacity) * grey[..., None]
    return np.rint(mixed).astype(np.uint8)


def mark_cell(image: np.ndarray, cell: tuple[int, int], scale: int) -> np.ndarray:
    """A copy of the upscaled ``image`` ``(H·s, W·s, 3)`` with a ring (white inside black) around ``cell``."""
    marked = image.copy()
    height, width = image.shape[:2]
    cy, cx = (cell[0] + 0.5) * scale, (cell[1] + 0.5) * scale
    yy, xx = np.mgrid[0:height, 0:width]
    distance = np.hypot(yy + 0.5 - cy, xx + 0.5 - cx)
    radius = max(6.0, 1.5 * scale)
    marked[np.abs(distance - radius) <= 2.5] = 0
    marked[np.abs(distance - radius) <= 1.2] = 255
    return marked
