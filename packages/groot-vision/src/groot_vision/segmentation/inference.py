"""Whole-image inference at one or several scales, with optional horizontal flip."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MULTI_SCALES", "predict_probabilities"]

MULTI_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


@torch.no_grad()
def predict_probabilities(
    model: nn.Module,
    image: torch.Tensor,
    *,
    short_side: int = 512,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
) -> torch.Tensor:
    """Class probabilities ``(B, K, H, W)`` of normalised images ``(B, 3, H, W)``, averaged over views.

    Each view resizes the image so its shorter side is ``short_side * scale``, runs ``model``, and
    resizes the softmax back to ``H x W``.
    """
    height, width = image.shape[-2:]
    total = None
    for scale in scales:
        factor = short_side * scale / min(height, width)
        size = (max(round(height * factor), 1), max(round(width * factor), 1))
        resized = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        views = [resized, resized.flip(-1)] if flip else [resized]
        for k, view in enumerate(views):
            probs = model(view).float().softmax(1)
            if k == 1:
                probs = probs.flip(-1)
            probs = F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)
            total = probs if total is None else total + probs
    return total / (len(scales) * (2 if flip else 1))
