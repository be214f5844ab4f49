"""Semantic-segmentation scores from a running confusion matrix: mIoU, pixel accuracy, mean accuracy."""

from __future__ import annotations

import torch
import torch.distributed as dist

from .data import IGNORE_INDEX

__all__ = ["ConfusionMatrix"]


class ConfusionMatrix:
    """Counts ``(target class, predicted class)`` pixel pairs; ignored pixels are skipped."""

    def __init__(self, num_classes: int, device: torch.device | str = "cpu") -> None:
        self.num_classes = num_classes
        self.counts = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        """``prediction``, ``target``: integer maps of the same shape (any batch layout)."""
        keep = target != IGNORE_INDEX
        pairs = target[keep].to(self.counts.device) * self.num_classes + prediction[keep].to(
            self.counts.device
        )
        self.counts += torch.bincount(pairs, minlength=self.num_classes**2).view(self.num_classes, -1)

    def all_reduce(self) -> None:
        """Sum the counts over all processes (DDP)."""
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.counts)

    def compute(self) -> dict[str, float]:
        """``mIoU`` / ``mAcc``: mean over classes present in targets or predictions; ``aAcc``: over pixels."""
        counts = self.counts.double()
        hits = counts.diag()
        union = counts.sum(0) + counts.sum(1) - hits
        target_pixels = counts.sum(1)
        present = union > 0
        iou = hits[present] / union[present]
        acc = hits[target_pixels > 0] / target_pixels[target_pixels > 0]
        total = counts.sum()
        return {
            "mIoU": float(iou.mean()) if iou.numel() else 0.0,
            "mAcc": float(acc.mean()) if acc.numel() else 0.0,
            "aAcc": float(hits.sum() / total) if total > 0 else 0.0,
        }
