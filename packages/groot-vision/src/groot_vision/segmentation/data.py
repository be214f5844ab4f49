"""ADE20K-layout segmentation data: ``images/<split>/*.jpg`` with ``annotations/<split>/*.png`` label maps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

__all__ = ["IGNORE_INDEX", "LabelMapError", "SegmentationFolder", "train_transforms"]

IGNORE_INDEX = 255  # value of ignored pixels in the targets the model sees
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class LabelMapError(ValueError):
    """A label map is missing, unreadable or does not fit its image; the message names the file."""


def train_transforms(crop_size: int) -> v2.Compose:
    """Random rescale (shorter side ×0.5-2 of the crop), random crop, flip, normalisation."""
    return v2.Compose(
        [
            v2.RandomResize(crop_size // 2, crop_size * 2),
            v2.RandomCrop(crop_size, pad_if_needed=True, fill={tv_tensors.Mask: IGNORE_INDEX, "others": 0}),
            v2.RandomHorizontalFlip(),
            v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
            v2.Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD),
        ]
    )


def eval_transforms() -> v2.Compose:
    """Normalisation only: evaluation resizes inside the inference routine and scores at full size."""
    return v2.Compose(
        [
            v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
            v2.Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD),
        ]
    )


class SegmentationFolder(Dataset):
    """Pairs ``root/images/<split>/<name>.*`` with ``root/annotations/<split>/<name>.png``.

    Items are ``(image (3, H, W) float, target (H, W) int64)``. Label ``ignore_label`` becomes
    :data:`IGNORE_INDEX`; with ``ignore_label=0`` (ADE20K) the other labels shift down by one, so class
    ``k`` of the file is channel ``k - 1`` of the model. Every pair is checked (presence, size) when the
    dataset is built, so training never stops halfway on a bad file.

    Raises:
        LabelMapError: a missing folder, no images, an image without a label map, or a size mismatch.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "training",
        *,
        num_classes: int = 150,
        ignore_label: int = 0,
        transforms: v2.Compose | None = None,
    ) -> None:
        image_dir, label_dir = Path(root) / "images" / split, Path(root) / "annotations" / split
        for folder in (image_dir, label_dir):
            if not folder.is_dir():
                raise LabelMapError(f"{folder}: folder not found (expected ADE20K layout)")
        self.pairs = []
        for image_path in sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            label_path = label_dir / f"{image_path.stem}.png"
            if not label_path.is_file():
                raise LabelMapError(f"{label_path}: label map for {image_path.name} not found")
            with Image.open(image_path) as image, Image.open(label_path) as label:
                if image.size != label.size:
                    raise LabelMapError(
                        f"{label_path}: label map is {label.size[0]}x{label.size[1]} but its image "
                        f"{image_path} is {image.size[0]}x{image.size[1]}"
                    )
            self.pairs.append((image_path, label_path))
        if not self.pairs:
            raise LabelMapError(f"{image_dir}: no images found")
        self.num_classes, self.ignore_label = num_classes, ignore_label
        self.transforms = transforms if transforms is not None else eval_transforms()

    def __len__(self) -> int:
        return len(self.pairs)

    def target_from_labels(self, labels: np.ndarray, source: Path) -> torch.Tensor:
        """File label values -> model targets (class index or :data:`IGNORE_INDEX`)."""
        labels = torch.from_numpy(labels.astype(np.int64))
        ignored = labels == self.ignore_label
        if self.ignore_label == 0:
            labels = labels - 1
        labels[ignored] = IGNORE_INDEX
        valid = labels[~ignored]
        if valid.numel() and (valid.min() < 0 or valid.max() >= self.num_classes):
            raise LabelMapError(f"{source}: label values outside the {self.num_classes} classes")
        return labels

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_path, label_path = self.pairs[index]
        image = tv_tensors.Image(
            torch.from_numpy(np.array(Image.open(image_path).convert("RGB"))).permute(2, 0, 1)
        )
        label_array = np.array(Image.open(label_path))
        if label_array.ndim != 2:
            raise LabelMapError(
                f"{label_path}: label map must be single-channel, got shape {label_array.shape}"
            )
        target = tv_tensors.Mask(self.target_from_labels(label_array, label_path))
        return self.transforms(image, target)
