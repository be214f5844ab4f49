"""torchrun-compatible process setup: one process per GPU, or a single process on CPU / one GPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["Runtime", "init_runtime"]


@dataclass(frozen=True)
class Runtime:
    """Where this process runs and its place among the others."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def data_parallel(self, model: nn.Module, *, sync_batchnorm: bool = False) -> nn.Module:
        """``model`` in DistributedDataParallel when distributed (with SyncBatchNorm on CUDA if
        asked), else ``model`` itself."""
        if not self.distributed:
            return model
        if sync_batchnorm and self.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(
            model, device_ids=None if self.device.type == "cpu" else [self.device]
        )

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.distributed:
            dist.destroy_process_group()


def init_runtime(device: str | None = None) -> Runtime:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1), else run alone.

    ``device`` defaults to ``cuda`` when available; under torchrun each process takes ``cuda:LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    wanted = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if world_size == 1:
        return Runtime(torch.device(wanted))
    local_rank = int(os.environ["LOCAL_RANK"])
    if wanted.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Runtime(dev, dist.get_rank(), world_size)
