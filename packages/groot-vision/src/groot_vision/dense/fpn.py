"""GrootV + feature pyramid network, in the form torchvision's detection models expect."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

from .backbone import GrootVFeatures

__all__ = ["GrootVFPN"]


class GrootVFPN(nn.Module):
    """Like torchvision's ``BackboneWithFPN``: GrootV stage maps -> FPN levels ``"0"``-``"3"`` + ``"pool"``.

    Args:
        features: the GrootV feature extractor.
        out_channels: width of every pyramid level (``self.out_channels``, read by torchvision heads).
    """

    def __init__(self, features: GrootVFeatures, out_channels: int = 256) -> None:
        super().__init__()
        self.body = features
        self.fpn = FeaturePyramidNetwork(features.channels, out_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """``images`` ``(B, 3, H, W)`` -> ``{"0": (B, out, H/4, W/4), ..., "3": .../32, "pool": .../64}``."""
        return self.fpn(self.body(images))
