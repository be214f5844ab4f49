"""Types shared by the torch API, its reference twin and the NumPy API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    import torch

Metric = Literal["cosine", "l1", "l2"]
ScanMode = Literal["all", "root"]


class BFS(NamedTuple):
    """A breadth-first ordering of B trees over L vertices.

    The same type carries NumPy arrays in :mod:`groot_core.numpy`.

    Attributes:
        order: ``(B, L)`` int64, ``order[b, k]`` is the k-th vertex visited (``order[b, 0]`` is the root).
        parent: ``(B, L)`` int64, ``parent[b, v]`` is v's parent, ``-1`` at the root.
    """

    order: torch.Tensor | Any
    parent: torch.Tensor | Any
