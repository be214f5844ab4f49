"""Model cost report: parameters, multiply-accumulates per image and inference throughput."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["ModelReport", "count_macs", "measure_throughput", "model_report"]


@dataclass(frozen=True)
class ModelReport:
    """Parameters (millions), GMACs per image and images per second at the measured batch size."""

    params_m: float
    gmacs: float
    throughput_imgps: float | None
    input_size: tuple[int, int, int]

    def __str__(self) -> str:
        speed = "" if self.throughput_imgps is None else f", {self.throughput_imgps:.1f} img/s"
        size = "x".join(map(str, self.input_size))
        return f"{self.params_m:.2f} M params, {self.gmacs:.2f} GMACs at {size}{speed}"


@torch.no_grad()
def count_macs(
    model: nn.Module, input_size: tuple[int, int, int], device: torch.device | str = "cpu"
) -> float:
    """Multiply-accumulates of one forward pass on one image (convolutions and matmuls; the scan is O(D·L)).

    This is the "FLOPs" figure papers quote (fvcore convention).
    """
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(1, *input_size, device=device))
    model.train(was_training)
    return counter.get_total_flops() / 2


@torch.no_grad()
def measure_throughput(
    model: nn.Module,
    input_size: tuple[int, int, int],
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    warmup: int = 3,
    iters: int = 10,
    autocast_dtype: torch.dtype | None = None,
) -> float:
    """Inference images per second on random input of ``(batch_size, *input_size)``."""
    device = torch.device(device)
    model.eval()
    x = torch.randn(batch_size, *input_size, device=device)
    with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        for _ in range(warmup):
            model(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(iters):
            model(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return batch_size * iters / (time.perf_counter() - start)


def model_report(
    model: nn.Module,
    input_size: tuple[int, int, int],
    *,
    device: torch.device | str = "cpu",
    throughput_batch: int | None = None,
) -> ModelReport:
    """Parameters and GMACs, plus throughput when ``throughput_batch`` is given."""
    params = sum(p.numel() for p in model.parameters())
    speed = None
    if throughput_batch:
        speed = measure_throughput(model, input_size, batch_size=throughput_batch, device=device)
    return ModelReport(params / 1e6, count_macs(model, input_size, device) / 1e9, speed, tuple(input_size))
