"""COCO-format detection data (an annotations JSON + an image folder), checked before training starts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Subset
from torchvision import tv_tensors
from torchvision.datasets import CocoDetection, wrap_dataset_for_transforms_v2
from torchvision.transforms import v2

__all__ = ["CocoDataError", "coco_categories", "collate", "load_coco", "transforms_for"]


class CocoDataError(ValueError):
    """The annotations file or its images are unusable; the message names the file."""


def drop_crowd(image: Any, target: dict) -> tuple[Any, dict]:
    """Remove crowd regions (``iscrowd=1``) from a training target; COCOeval handles them at test time."""
    keep = torch.as_tensor(target.pop("iscrowd", []), dtype=torch.bool).logical_not()
    if "boxes" in target and len(keep):
        for key in ("boxes", "labels", "masks"):
            kept = target[key][keep]  # indexing returns a plain tensor: re-wrap boxes and masks
            target[key] = tv_tensors.wrap(kept, like=target[key]) if key != "labels" else kept
    return image, target


def transforms_for(train: bool) -> v2.Compose:
    """PIL image + COCO target -> float image in [0, 1] + tv_tensors (resizing is done by the model)."""
    steps = [v2.ToImage()]
    if train:
        steps = [drop_crowd, *steps, v2.RandomHorizontalFlip(0.5)]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.SanitizeBoundingBoxes()]
    return v2.Compose(steps)


def load_coco(images: str | os.PathLike, annotations: str | os.PathLike, *, train: bool) -> Dataset:
    """Items ``(image (3, H, W) float, {"boxes" (N, 4) XYXY, "labels" (N,), "masks" (N, H, W), "image_id"})``.

    Labels are the COCO category ids. Training keeps only images with at least one non-crowd object.

    Raises:
        CocoDataError: the JSON is missing or unreadable, lists no images or (for training) no
            annotations, or names image files absent from ``images``.
    """
    annotations, images = Path(annotations), Path(images)
    if not annotations.is_file():
        raise CocoDataError(f"{annotations}: annotations file not found")
    try:
        dataset = CocoDetection(str(images), str(annotations), transforms=transforms_for(train))
    except (ValueError, KeyError, TypeError) as err:
        raise CocoDataError(f"{annotations}: not a COCO annotations file ({err})") from err
    coco = dataset.coco
    if not coco.imgs:
        raise CocoDataError(f"{annotations}: the 'images' list is empty")
    missing = [img["file_name"] for img in coco.imgs.values() if not (images / img["file_name"]).is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise CocoDataError(f"{annotations}: {len(missing)} image(s) not found in {images}: {shown}")
    if train and not coco.anns:
        raise CocoDataError(f"{annotations}: the 'annotations' list is empty, nothing to train on")
    keys = {"boxes", "labels", "masks", "image_id"} | ({"iscrowd"} if train else set())
    wrapped = wrap_dataset_for_transforms_v2(dataset, target_keys=keys)
    if not train:
        return wrapped
    kept = [i for i, img_id in enumerate(dataset.ids) if coco.getAnnIds(imgIds=img_id, iscrowd=False)]
    return Subset(wrapped, kept)


def coco_categories(annotations: str | os.PathLike) -> dict[int, str]:
    """Category id -> name, read from the JSON."""
    with open(annotations) as f:
        return {int(c["id"]): str(c["name"]) for c in json.load(f).get("categories", [])}


def collate(batch: list) -> tuple[list, list]:
    """Detection batches stay lists: images differ in size."""
    return tuple(zip(*batch, strict=True))
