"""What the detection and segmentation command lines share: runtime options, the backbone
checkpoint at start, the training log, the mixed-precision optimizer step and the metric report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .distributed import Runtime
from .weights import load_backbone_weights

__all__ = ["TrainLog", "load_backbone_checkpoint", "optimizer_step", "report_metrics", "runtime_options"]


def runtime_options() -> argparse.ArgumentParser:
    """A parent parser for every sub-command: ``--device`` and ``--amp``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    options.add_argument(
        "--amp", action=argparse.BooleanOptionalAction, default=True, help="mixed precision on CUDA"
    )
    return options


def load_backbone_checkpoint(model: nn.Module, path: str | None, runtime: Runtime) -> None:
    """Load a GrootV classification checkpoint into the model's backbone (none: nothing to do)
    and print what was and was not loaded, once."""
    if not path:
        return
    report = load_backbone_weights(model, path)
    if runtime.is_main:
        print(report.summary())


class TrainLog:
    """``<output>/log.jsonl``, one JSON object a line, appended to by the main process only."""

    def __init__(self, output: Path, runtime: Runtime) -> None:
        self._file = None
        if runtime.is_main:
            output.mkdir(parents=True, exist_ok=True)
            self._file = open(output / "log.jsonl", "a")

    def write(self, entry: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(entry) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def optimizer_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> None:
    """Backward through the (possibly scaled) loss, one optimizer step and one scheduler step."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()


def report_metrics(metrics: dict[str, Any], runtime: Runtime, path: str | None) -> None:
    """Print the metrics as JSON on the main process, and write them to ``path`` if given."""
    if runtime.is_main:
        print(json.dumps(metrics, indent=2))
        if path:
            Path(path).write_text(json.dumps(metrics, indent=2))
