"""Tiny synthetic datasets written to disk: coloured shapes with polygon masks (COCO) and label maps (ADE)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CATEGORIES = [{"id": 1, "name": "square"}, {"id": 2, "name": "triangle"}]
COLOURS = {1: (230, 40, 40), 2: (40, 90, 230)}


def _polygon(category: int, x: int, y: int, size: int) -> list[tuple[int, int]]:
    if category == 1:
        return [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]
    return [(x, y + size), (x + size // 2, y), (x + size, y + size)]


def _draw_scene(
    rng: np.random.Generator, size: int, count: int
) -> tuple[Image.Image, list[tuple[int, list]]]:
    image = Image.new("RGB", (size, size), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    shapes = []
    cell = size // 2
    cells = rng.permutation(4)[:count]  # one shape per quadrant: no overlaps, masks stay exact
    for c in cells.tolist():
        category = int(rng.integers(1, 3))
        side = int(rng.integers(cell // 2, cell - 6))
        x = (c % 2) * cell + int(rng.integers(2, cell - side - 2))
        y = (c // 2) * cell + int(rng.integers(2, cell - side - 2))
        polygon = _polygon(category, x, y, side)
        draw.polygon(polygon, fill=COLOURS[category])
        shapes.append((category, polygon))
    return image, shapes


def write_coco(root: Path, num_images: int = 6, size: int = 128, seed: int = 0) -> tuple[Path, Path]:
    """Images under ``root/images`` and ``root/annotations.json``; returns (image folder, JSON path)."""
    rng = np.random.default_rng(seed)
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        image, shapes = _draw_scene(rng, size, count=2 + i % 2)
        name = f"scene_{i}.png"
        image.save(images_dir / name)
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
        for category, polygon in shapes:
            xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
            mask = Image.new("L", (size, size), 0)
            ImageDraw.Draw(mask).polygon(polygon, fill=1)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": category,
                    "segmentation": [[float(v) for p in polygon for v in p]],
                    "area": float(np.asarray(mask).sum()),
                    "bbox": [
                        float(min(xs)),
                        float(min(ys)),
                        float(max(xs) - min(xs)),
                        float(max(ys) - min(ys)),
                    ],
                    "iscrowd": 0,
                }
            )
    json_path = root / "annotations.json"
    json_path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": CATEGORIES}))
    return images_dir, json_path


def write_ade(
    root: Path, split: str = "training", num_images: int = 4, size: int = 96, seed: int = 0
) -> Path:
    """ADE20K layout: ``root/images/<split>/*.jpg`` + ``root/annotations/<split>/*.png``.

    Label 0 (ignored) is a border frame; shapes are labelled 1 (square) and 2 (triangle), background 3.
    """
    rng = np.random.default_rng(seed)
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "annotations" / split).mkdir(parents=True, exist_ok=True)
    for i in range(num_images):
        image, shapes = _draw_scene(rng, size, count=2 + i % 2)
        label = Image.new("L", (size, size), 3)
        draw = ImageDraw.Draw(label)
        for category, polygon in shapes:
            draw.polygon(polygon, fill=category)
        label_array = np.asarray(label).copy()
        label_array[:3], label_array[-3:], label_array[:, :3], label_array[:, -3:] = 0, 0, 0, 0
        image.save(root / "images" / split / f"ADE_{i:04d}.png")
        Image.fromarray(label_array).save(root / "annotations" / split / f"ADE_{i:04d}.png")
    return root
