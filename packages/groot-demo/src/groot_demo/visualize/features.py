"""Per-pixel features from raw colour and position."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def fit_to_grid(image: Image.Image, size: int) -> Image.Image:
    """``image`` resized (area-averaged) so that its longer side is ``size`` pixels, aspect ratio kept."""
    width, height = image.size
    scale = size / max(width, height)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(target, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)


def colour_position_features(image: Image.Image, position_weight: float = 1.0) -> torch.Tensor:
    """Features ``(1, 5, H, W)`` of an RGB image: colour in [0, 1] units, then row and column.

    Everything is centred on the image's mean, so that the cosine metric sees differences in hue,
    brightness and place rather than the direction of an all-positive vector. Row and column share
    one unit (``position_weight`` / longer side), so a step costs the same in both directions.
    """
    rgb = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
    rgb = rgb - rgb.mean(dim=(1, 2), keepdim=True)
    _, h, w = rgb.shape
    unit = position_weight / max(h, w)
    rows = _centred_coordinates(h, unit).reshape(h, 1).expand(h, w)
    cols = _centred_coordinates(w, unit).reshape(1, w).expand(h, w)
    return torch.cat([rgb, rows[None], cols[None]])[None]


def _centred_coordinates(n: int, unit: float) -> torch.Tensor:
    return (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * unit
