"""Loading a GrootV classification checkpoint into a dense-prediction model's backbone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..checkpoint import checkpoint_filter_fn, load_state_dict
from ..grootv import GrootV

__all__ = ["BackboneLoadReport", "find_grootv", "load_backbone_weights"]


@dataclass
class BackboneLoadReport:
    """What a backbone checkpoint load did, by parameter name (backbone-relative)."""

    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # in the checkpoint, not used (e.g. the head)
    shape_mismatch: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the backbone, not in the checkpoint

    def summary(self, max_names: int = 10) -> str:
        """Counts, then up to ``max_names`` skipped / mismatched / missing keys per kind."""
        lines = [
            f"backbone weights: {len(self.loaded)} loaded, {len(self.skipped)} skipped, "
            f"{len(self.shape_mismatch)} shape mismatches, {len(self.missing)} missing"
        ]
        for title, names in (
            ("skipped", self.skipped),
            ("shape mismatch", self.shape_mismatch),
            ("missing", self.missing),
        ):
            if names:
                more = f" and {len(names) - max_names} more" if len(names) > max_names else ""
                lines.append(f"  {title}: {', '.join(names[:max_names])}{more}")
        return "\n".join(lines)


def find_grootv(model: nn.Module) -> GrootV:
    """The (single) GrootV module inside ``model`` (a detector, an smp model, or a GrootV itself)."""
    found = [m for m in model.modules() if isinstance(m, GrootV)]
    if len(found) != 1:
        raise ValueError(f"expected exactly one GrootV inside {type(model).__name__}, found {len(found)}")
    return found[0]


def load_backbone_weights(
    model: nn.Module, source: str | os.PathLike | Mapping[str, torch.Tensor], *, use_ema: bool = True
) -> BackboneLoadReport:
    """Copy the matching tensors of a classification checkpoint into ``model``'s GrootV backbone.

    ``source`` is a file (the paper's release, a groot-vision/timm checkpoint, ``.safetensors``) read
    with the restricted unpickler, or a state dict. The classifier (``conv_head``, ``head``) and anything
    the backbone lacks is skipped and reported; nothing raises unless no tensor at all matches.
    """
    if isinstance(source, Mapping):
        state = checkpoint_filter_fn(source)
    else:
        state = load_state_dict(source, use_ema=use_ema)
    backbone = find_grootv(model)
    own = backbone.state_dict()
    report = BackboneLoadReport()
    usable = {}
    for name, tensor in state.items():
        if name not in own:
            report.skipped.append(name)
        elif own[name].shape != tensor.shape:
            report.shape_mismatch.append(f"{name} {tuple(tensor.shape)} vs {tuple(own[name].shape)}")
        else:
            usable[name] = tensor
            report.loaded.append(name)
    report.missing = [name for name in own if name not in usable]
    if not usable:
        raise ValueError("no tensor of the checkpoint matches the GrootV backbone: " + report.summary())
    backbone.load_state_dict(usable, strict=False)
    return report
