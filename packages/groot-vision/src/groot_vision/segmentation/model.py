"""UperNet (segmentation_models_pytorch) on a GrootV encoder, for images of any size."""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PaddedSegmenter", "build_upernet"]


class PaddedSegmenter(nn.Module):
    """Pads images to a multiple of 32 (smp requires it), runs ``model`` and crops the logits back."""

    def __init__(self, model: nn.Module, multiple: int = 32) -> None:
        super().__init__()
        self.model = model
        self.multiple = multiple

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` ``(B, 3, H, W)`` -> logits ``(B, num_classes, H, W)``."""
        height, width = images.shape[-2:]
        pad_h, pad_w = (-height) % self.multiple, (-width) % self.multiple
        logits = self.model(F.pad(images, (0, pad_w, 0, pad_h)))
        return logits[..., :height, :width]


def build_upernet(
    backbone: str = "grootv_tiny",
    num_classes: int = 150,
    *,
    drop_path_rate: float | None = None,
    decoder_channels: int = 512,
) -> PaddedSegmenter:
    """``smp.UPerNet(encoder_name="tu-<backbone>")``, wrapped in :class:`PaddedSegmenter`.

    The encoder comes from timm's registry (``features_only``, strides 4-32), so any registered GrootV
    variant works; load classification weights with :func:`groot_vision.dense.load_backbone_weights`.
    """
    encoder_kwargs = {} if drop_path_rate is None else {"drop_path_rate": drop_path_rate}
    model = smp.UPerNet(
        encoder_name=f"tu-{backbone}",
        encoder_weights=None,
        classes=num_classes,
        decoder_channels=decoder_channels,
        **encoder_kwargs,
    )
    return PaddedSegmenter(model)
