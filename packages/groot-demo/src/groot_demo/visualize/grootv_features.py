"""Stage-1/2 features of a GrootV backbone (optional: needs groot-vision and timm)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

DEFAULT_MODEL = "grootv_tiny"
STAGES = (1, 2)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_MAX_REASON = 300


class GrootVUnavailable(RuntimeError):
    """groot-vision (or timm) is not installed, so GrootV features cannot be computed."""


class CheckpointError(ValueError):
    """A checkpoint file could not be loaded into the GrootV model."""


def load_grootv(
    checkpoint: str | None = None,
    *,
    model_name: str = DEFAULT_MODEL,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> torch.nn.Module:
    """A GrootV backbone returning its stage-1 and stage-2 feature maps, in eval mode.

    Args:
        checkpoint: path of a checkpoint for ``model_name`` (the paper's release, timm or plain state
            dict); ``None`` for weights drawn from timm's initialisation with ``seed`` (repeatable).
        model_name: a GrootV model registered with timm (``grootv_tiny``, ``grootv_micro``, …).
        seed: RNG seed of the random initialisation.
        device: where the model lives.
    Raises:
        GrootVUnavailable: groot-vision or timm is not importable.
        CheckpointError: the file is not a loadable checkpoint of ``model_name``.
    """
    try:
        import groot_vision  # noqa: F401  (registers the GrootV models with timm)
        import timm
    except ImportError as err:
        raise GrootVUnavailable(
            f"GrootV features need the groot-vision package ({err}); install it with "
            "`pip install groot-demo[vision]` or use the colour + position features"
        ) from err
    # One image at a time: compiling fused kernels (GPU) would take longer than it saves.
    options = dict(features_only=True, out_indices=tuple(s - 1 for s in STAGES), fuse_elementwise=False)
    if checkpoint is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = timm.create_model(model_name, **options)
    else:
        try:
            overlay = dict(file=str(checkpoint))
            model = timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=overlay, **options)
        except Exception as err:  # any failure to read or fit the file means: not a usable checkpoint
            # torch's reasons can list hundreds of tensors; the start is enough for a page message.
            reason = " ".join(str(err).split())
            reason = reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"
            raise CheckpointError(
                f"could not load the checkpoint into {model_name}: {type(err).__name__}: {reason}"
            ) from err
    return model.eval().to(device)


@torch.no_grad()
def grootv_features(model: torch.nn.Module, image: Image.Image, stage: int) -> torch.Tensor:
    """Stage-``stage`` features ``(1, C, ceil(H/s), ceil(W/s))`` of an RGB H×W ``image``; s is 4 or 8."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage}")
    device = next(model.parameters()).device
    rgb = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(_IMAGENET_MEAN).reshape(3, 1, 1)
    std = torch.tensor(_IMAGENET_STD).reshape(3, 1, 1)
    return model(((rgb - mean) / std)[None].to(device))[STAGES.index(stage)]
