"""Loading GrootV weights without executing the code a pickle may carry.

Accepted files:

* the paper's releases: ``{"model": state_dict, "model_ema": state_dict (optional), "config": yacs CfgNode,
  "optimizer": ..., ...}``;
* checkpoints written by :mod:`groot_vision.train` or timm (``model`` / ``state_dict`` / ``*_ema`` keys);
* plain state dicts, pickled (``.pth``) or ``.safetensors``.

Pickles go through ``torch.load(weights_only=True)``, torch's restricted unpickler. On top of its built-in
allow-list, the configuration classes that training scripts save next to the weights are mapped to
:class:`InertRecord`, which keeps their fields as plain data and never imports or runs the original
class. Anything else (``os.system``, arbitrary classes, ...) makes loading fail with
:class:`UnsafeCheckpointError` before any of it runs.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = [
    "InertRecord",
    "UnsafeCheckpointError",
    "checkpoint_filter_fn",
    "load_checkpoint",
    "load_checkpoint_file",
    "load_state_dict",
    "safe_checkpoint_globals",
]

# Configuration objects pickled next to weights by the paper's code (yacs) and common training scripts.
_CONFIG_CLASSES = ("yacs.config.CfgNode", "argparse.Namespace")


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The file references code outside the allow-list; nothing from it was executed."""


class InertRecord:
    """Stand-in for an allow-listed configuration class.

    Unpickling "constructs" it, but ``__new__`` returns an ``OrderedDict`` that receives the object's
    items and attributes, so the original class is never imported and no user code runs.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> OrderedDict:  # type: ignore[misc]
        return OrderedDict()


def _numpy_scalar_globals() -> list[Any]:
    # Metrics such as `max_accuracy` are sometimes numpy scalars; torch's docs allow-list these for that.
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    dtype_classes = [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")]
    return [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
        *dtype_classes,
    ]


def safe_checkpoint_globals() -> torch.serialization.safe_globals:
    """Context manager extending ``torch.load(weights_only=True)``'s allow-list as described above."""
    return torch.serialization.safe_globals(
        [(InertRecord, name) for name in _CONFIG_CLASSES] + _numpy_scalar_globals()
    )


def load_checkpoint_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """Everything stored in ``path``, loaded through the restricted unpickler (or safetensors)."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path), device=str(map_location))
    try:
        with safe_checkpoint_globals():
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(f"refusing to load {os.fspath(path)!r}: {err}") from err


def _select_state_dict(checkpoint: Any, use_ema: bool) -> dict[str, torch.Tensor]:
    keys = ("model_ema", "state_dict_ema", "model", "state_dict") if use_ema else ("model", "state_dict")
    if isinstance(checkpoint, Mapping):
        for key in keys:
            if isinstance(checkpoint.get(key), Mapping):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in checkpoint.values()
    ):
        raise ValueError("no state dict (a mapping of names to tensors) found in the checkpoint")
    return dict(checkpoint)


def checkpoint_filter_fn(
    state_dict: Mapping[str, Any], model: torch.nn.Module | None = None
) -> dict[str, Any]:
    """Unwrap a full training checkpoint and strip wrapper prefixes (DDP ``module.``, ``torch.compile``)."""
    if "model" in state_dict or "model_ema" in state_dict:
        state_dict = _select_state_dict(state_dict, use_ema="model_ema" in state_dict)
    prefixes = ("module.", "_orig_mod.")
    out = {}
    for name, value in state_dict.items():
        while name.startswith(prefixes):
            name = name.split(".", 1)[1]
        out[name] = value
    return out


def load_state_dict(
    path: str | os.PathLike, *, use_ema: bool = True, map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """The model weights in ``path``: the EMA weights when present and ``use_ema``, else the raw ones."""
    return checkpoint_filter_fn(_select_state_dict(load_checkpoint_file(path, map_location), use_ema))


def load_checkpoint(
    model: torch.nn.Module, path: str | os.PathLike, *, use_ema: bool = True, strict: bool = True
) -> Any:
    """Load the weights in ``path`` into ``model`` (see :func:`load_state_dict`).

    Returns the missing and unexpected keys, as ``nn.Module.load_state_dict`` does.
    """
    return model.load_state_dict(load_state_dict(path, use_ema=use_ema), strict=strict)
