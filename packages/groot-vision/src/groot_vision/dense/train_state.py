"""Saving and resuming a dense-prediction training run (model, optimiser, schedule, AMP scaler, step)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import load_checkpoint_file

__all__ = ["load_model_weights", "load_train_state", "load_trained_model", "save_train_state"]


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def save_train_state(path: str | os.PathLike, model: nn.Module, **state: Any) -> None:
    """Write ``{"model": weights, **state}`` (objects with ``state_dict()`` are stored as their state)."""
    payload = {"model": _unwrap(model).state_dict()}
    for key, value in state.items():
        payload[key] = value.state_dict() if hasattr(value, "state_dict") else value
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint behind


def load_train_state(path: str | os.PathLike, model: nn.Module, **restorable: Any) -> dict[str, Any]:
    """Restore ``model`` and each object in ``restorable`` from ``path``; return the remaining entries."""
    payload = load_checkpoint_file(path)
    _unwrap(model).load_state_dict(payload.pop("model"))
    for key, obj in restorable.items():
        if obj is not None and key in payload:
            obj.load_state_dict(payload.pop(key))
    return payload


def load_model_weights(path: str | os.PathLike, model: nn.Module) -> None:
    """Load only the model weights of a file written by :func:`save_train_state`."""
    _unwrap(model).load_state_dict(load_checkpoint_file(path)["model"])


def load_trained_model(
    path: str | os.PathLike, build: Callable[[dict], nn.Module], device: torch.device
) -> tuple[nn.Module, dict]:
    """Rebuild a model from the ``config`` saved with it, load its weights; returns ``(model in eval
    mode on device, config)``."""
    payload = load_checkpoint_file(path)
    model = build(payload["config"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval(), payload["config"]
