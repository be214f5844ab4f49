"""Draws the bundled sample images, deterministically: ``python -m groot_demo.samples [DIR]``.

They are synthetic scenes with clear object boundaries (where the tree and raster maps differ
most), a little seeded noise so that edge weights are not all equal, and no third-party content.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 160, 120


def shapes() -> np.ndarray:
    """A disc, a square and a triangle on a vertical gradient: ``(HEIGHT, WIDTH, 3)`` float in [0, 255]."""
    yy, xx = _coordinates()
    image = np.stack([60 + 80 * yy / HEIGHT, 110 + 60 * yy / HEIGHT, 170 + 40 * yy / HEIGHT], axis=-1)
    image[np.hypot(yy - 45, xx - 45) < 28] = (215, 50, 45)
    image[(np.abs(yy - 75) < 24) & (np.abs(xx - 112) < 24)] = (240, 200, 60)
    image[(yy > 70) & (yy < 110) & (np.abs(xx - 45) < (yy - 70) * 0.8)] = (60, 160, 80)
    return image


def landscape() -> np.ndarray:
    """Sky, sun, two ranges of hills and a lake: ``(HEIGHT, WIDTH, 3)`` float in [0, 255]."""
    yy, xx = _coordinates()
    image = np.stack([120 + 90 * yy / HEIGHT, 170 + 50 * yy / HEIGHT, np.full_like(yy, 235.0)], axis=-1)
    image[np.hypot(yy - 28, xx - 120) < 14] = (255, 225, 120)
    far = 62 + 10 * np.sin(xx / 17.0) + 5 * np.sin(xx / 5.3 + 1.0)
    image[yy > far] = (110, 130, 150)
    near = 80 + 12 * np.sin(xx / 23.0 + 2.0) + 3 * np.sin(xx / 3.1)
    image[yy > near] = (70, 120, 60)
    image[(yy > 98) & (np.abs(xx - 70) < 55 - (yy - 98))] = (50, 90, 160)
    return image


def cells(seed: int = 3, count: int = 14) -> np.ndarray:
    """Voronoi cells in pastel colours with dark borders: ``(HEIGHT, WIDTH, 3)`` float in [0, 255]."""
    rng = np.random.default_rng(seed)
    centres = rng.random((count, 2)) * (HEIGHT, WIDTH)
    colours = 110 + 130 * rng.random((count, 3))
    yy, xx = _coordinates()
    distance = np.hypot(yy[..., None] - centres[:, 0], xx[..., None] - centres[:, 1])
    nearest = np.sort(distance, axis=-1)
    image = colours[distance.argmin(axis=-1)]
    image[nearest[..., 1] - nearest[..., 0] < 1.5] = (35, 30, 40)
    return image


SAMPLES: dict[str, Callable[[], np.ndarray]] = {"shapes": shapes, "landscape": landscape, "cells": cells}


def render(name: str, noise: float = 6.0, seed: int = 0) -> Image.Image:
    """Sample ``name`` as an RGB PIL image, with uniform noise of ±``noise`` grey levels."""
    rng = np.random.default_rng(seed)
    image = SAMPLES[name]() + noise * (2 * rng.random((HEIGHT, WIDTH, 1)) - 1)
    return Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8))


def _coordinates() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    return yy.astype(np.float64), xx.astype(np.float64)


def main(directory: str | None = None) -> None:
    """Write every sample as ``<name>.png`` into ``directory`` (default: this package's folder)."""
    target = Path(directory) if directory else Path(__file__).parent
    for name in SAMPLES:
        render(name).save(target / f"{name}.png", optimize=True)
