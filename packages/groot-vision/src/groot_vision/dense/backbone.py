"""GrootV as a dense-prediction backbone: four normalised feature maps at strides 4, 8, 16 and 32."""

from __future__ import annotations

import math
from collections import OrderedDict

import timm
import torch
import torch.nn.functional as F
from torch import nn

from ..grootv import GrootV

__all__ = ["STRIDES", "GrootVFeatures"]

STRIDES = (4, 8, 16, 32)


class GrootVFeatures(nn.Module):
    """Stage outputs of a timm-registered GrootV, for any input size.

    Inputs are zero-padded on the bottom/right to a multiple of 32 and each map is cropped back to
    ``ceil(H / stride) x ceil(W / stride)``, so callers never pad themselves. Every map is the stage's
    own LayerNorm output (the per-stage norm dense heads expect). The classifier head is removed.

    Args:
        model_name: ``"grootv_tiny"``, ``"grootv_small"``, ``"grootv_base"`` or ``"grootv_micro"``.
        drop_path_rate: stochastic depth of the backbone (``None`` keeps the variant's default).
        frozen_stages: ``-1`` trains everything; ``k >= 0`` freezes the stem and the first ``k`` stages.
        grad_checkpointing: recompute block activations in the backward pass to save memory.
        **model_kwargs: passed on to ``timm.create_model`` (e.g. ``tree_scope``, ``scan``).
    """

    def __init__(
        self,
        model_name: str = "grootv_tiny",
        *,
        drop_path_rate: float | None = None,
        frozen_stages: int = -1,
        grad_checkpointing: bool = False,
        **model_kwargs,
    ) -> None:
        super().__init__()
        if drop_path_rate is not None:
            model_kwargs["drop_path_rate"] = drop_path_rate
        body = timm.create_model(model_name, pretrained=False, num_classes=0, **model_kwargs)
        if not isinstance(body, GrootV):
            raise ValueError(f"{model_name!r} is not a GrootV model")
        body.prune_intermediate_layers(indices=len(body.levels), prune_head=True)
        body.set_grad_checkpointing(grad_checkpointing)
        self.body = body
        self.channels = [info["num_chs"] for info in body.feature_info]
        self.frozen_stages = frozen_stages
        self._freeze()

    def _freeze(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.body.patch_embed, *self.body.levels[: self.frozen_stages]]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)

    def train(self, mode: bool = True) -> GrootVFeatures:
        super().train(mode)
        self._freeze()  # frozen parts stay in eval mode (drop-path off)
        return self

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """``images`` ``(B, 3, H, W)`` -> ``{"0": (B, C, ⌈H/4⌉, ⌈W/4⌉), ..., "3": (B, 8C, ⌈H/32⌉, ⌈W/32⌉)}``.

        ``C`` is the variant's first-stage width (``self.channels`` lists all four). The maps are
        channels-last in memory, as GrootV computes them.
        """
        height, width = images.shape[-2:]
        pad_h, pad_w = (-height) % STRIDES[-1], (-width) % STRIDES[-1]
        if pad_h or pad_w:
            images = F.pad(images, (0, pad_w, 0, pad_h))
        maps = self.body.forward_intermediates(images, intermediates_only=True)
        features = OrderedDict()
        for i, (fmap, stride) in enumerate(zip(maps, STRIDES, strict=True)):
            crop = fmap[..., : math.ceil(height / stride), : math.ceil(width / stride)]
            # Channels-last keeps the stages' own memory (no copy unless cropped), and a neck's
            # convolutions then run in it, with no conversion to channels-first and back.
            features[str(i)] = crop.contiguous(memory_format=torch.channels_last)
        return features
