"""A deterministic Pathfinder-style long-range task: are the two dots joined by a curve?

Each image holds a few random smooth curves drawn one pixel wide and two dots. In a ``positive`` image
the dots sit on the two ends of the same curve; in a ``negative`` image on the ends of two different
curves, and the image is redrawn until no chain of 8-connected pixels joins them, so the label is
exactly "the dots are connected". Answering needs evidence gathered along a whole curve, which is what
the tree, raster and cross scans are compared on.

Written as an ImageFolder tree (``OUT/{train,val}/{negative,positive}/NNNNNN.png``) so the training CLI
reads it like any other dataset. Sample i of a split depends only on (seed, split, i)::

    python -m groot_vision.synthetic --out data/pathfinder64 --size 64 --train 20000 --val 2000
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["CLASSES", "dots_connected", "render_sample", "write_split"]

CLASSES = ("negative", "positive")
_SPLIT_IDS = {"train": 0, "val": 1}


def _random_curve(rng: np.random.Generator, size: int, steps: int) -> list[tuple[float, float]]:
    """A random walk with smoothly turning heading that bounces off a 2-pixel margin."""
    lo, hi = 2.0, size - 3.0
    x, y = rng.uniform(lo, hi, size=2)
    heading = rng.uniform(0, 2 * math.pi)
    points = [(x, y)]
    for _ in range(steps):
        heading += rng.normal(0.0, 0.2)
        nx, ny = x + 1.5 * math.cos(heading), y + 1.5 * math.sin(heading)
        if not (lo <= nx <= hi and lo <= ny <= hi):
            heading += math.pi
            nx, ny = x + 1.5 * math.cos(heading), y + 1.5 * math.sin(heading)
        x, y = min(max(nx, lo), hi), min(max(ny, lo), hi)
        points.append((x, y))
    return points


def dots_connected(mask: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether pixels ``a`` and ``b`` (row, col) of the boolean ``mask`` (H, W) are 8-connected in it."""
    reached = np.zeros_like(mask)
    reached[a] = True
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        grown &= mask
        if grown[b]:
            return True
        if (grown == reached).all():
            return False
        reached = grown


def render_sample(
    rng: np.random.Generator, size: int, positive: bool, *, curves: int = 3, steps: int | None = None
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A ``(size, size)`` uint8 image (0 background, 255 ink) of the given label, and its dots (row, col)."""
    steps = steps if steps is not None else size
    while True:
        paths = [_random_curve(rng, size, steps) for _ in range(max(curves, 2))]
        canvas = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(canvas)
        for path in paths:
            draw.line(path, fill=255, width=1)
        ends = [paths[0][0], paths[0][-1] if positive else paths[1][-1]]
        dots = [(round(py), round(px)) for px, py in ends]
        radius = max(1, size // 32)
        for row, col in dots:
            draw.ellipse((col - radius, row - radius, col + radius, row + radius), fill=255)
        image = np.asarray(canvas)
        if positive or not dots_connected(image > 0, dots[0], dots[1]):
            return image, dots


def write_split(
    out: str | Path, split: str, count: int, *, size: int, seed: int = 0, curves: int = 3
) -> None:
    """Write ``count`` balanced samples of ``split`` (``"train"`` or ``"val"``) under ``out/split``."""
    for label in CLASSES:
        (Path(out) / split / label).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        positive = index % 2 == 1
        rng = np.random.default_rng([seed, _SPLIT_IDS[split], index])
        image, _ = render_sample(rng, size, positive, curves=curves)
        Image.fromarray(image).save(Path(out) / split / CLASSES[positive] / f"{index:06d}.png")


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry: write the train and val splits."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--train", type=int, default=20000, help="training images")
    parser.add_argument("--val", type=int, default=2000, help="validation images")
    parser.add_argument("--curves", type=int, default=3, help="curves per image (2 carry the dots)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_split(args.out, "train", args.train, size=args.size, seed=args.seed, curves=args.curves)
    write_split(args.out, "val", args.val, size=args.size, seed=args.seed, curves=args.curves)
    print(f"wrote {args.train} train / {args.val} val images of {args.size}x{args.size} to {args.out}")


if __name__ == "__main__":
    main()
