"""The cache of CPU scan outputs.

glibc gives large freed blocks back to the operating system, so each call of an op that returns
fresh multi-megabyte tensors faults every page of them in again (on a small VM, about half the
time of a CPU tree scan's forward + backward). :func:`~groot_core.tree_scan` on the CPU therefore
takes its outputs of 1 MiB or more from a cache of its freed outputs, as PyTorch's caching
allocator does for CUDA memory. The cache keeps at most a limit of bytes (256 MiB by default).
"""

from __future__ import annotations

import torch  # noqa: F401  (loads libtorch, which groot_core._C links against)

from . import _C

__all__ = ["cpu_output_cache_bytes", "cpu_output_cache_limit", "set_cpu_output_cache_limit"]


def set_cpu_output_cache_limit(limit_bytes: int) -> None:
    """Keep at most ``limit_bytes`` of freed CPU scan outputs for reuse; ``0`` turns the cache off.

    Lowering the limit frees what the cache holds beyond it at once.
    """
    if isinstance(limit_bytes, bool) or not isinstance(limit_bytes, int) or limit_bytes < 0:
        raise ValueError(f"limit_bytes must be a non-negative int, got {limit_bytes!r}")
    _C.set_cpu_output_cache_limit(limit_bytes)


def cpu_output_cache_bytes() -> int:
    """Bytes of freed CPU scan outputs the cache holds now."""
    return _C.cpu_output_cache_bytes()


def cpu_output_cache_limit() -> int:
    """Bytes of freed CPU scan outputs the cache may keep (256 MiB unless set)."""
    return _C.cpu_output_cache_limit()
