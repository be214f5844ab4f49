"""The scans a GrootV mixer can run over its grid of tokens.

``"tree"`` is the paper's: one pass over the minimum spanning tree of the 4-connected grid, where every
token receives the decayed sum of all others along the tree path. ``"raster"`` and ``"cross"`` are the
baselines of its ablation, written as scans over chain trees so that all three run through the same
``groot_core.tree_scan``:

* ``"raster"``: Mamba's causal recurrence ``h_t = decay_t * h_{t-1} + x_t`` along the row-major order.
* ``"cross"``: VMamba's four directions: the row-major and the column-major chains, each scanned both
  ways (``mode="all"``), summed. The backward direction reuses the forward's per-edge decay.

All functions take ``x`` and ``decay`` of shape ``(B, D, L)`` with ``L = H * W`` in row-major order.
"""

from __future__ import annotations

from typing import Literal

import groot_core
import torch

__all__ = ["Metric", "Scan", "TreeScope", "chain_tree", "grid_tree", "scan_grid"]

Scan = Literal["tree", "raster", "cross"]
Metric = Literal["cosine", "l1", "l2"]
TreeScope = Literal["block", "stage"]


def grid_tree(guide: torch.Tensor, metric: Metric = "cosine") -> groot_core.BFS:
    """The paper's tree: MST of the 4-connected grid of ``guide`` ``(B, C, H, W)``, rooted at vertex 0."""
    return groot_core.grid_tree(guide.detach(), metric=metric, root=0)


def chain_tree(batch: int, length: int, *, root_at_end: bool, device: torch.device) -> groot_core.BFS:
    """The path ``0 - 1 - ... - (L-1)`` in BFS form, rooted at ``L-1`` or at ``0``.

    Rooted at ``L-1``, every vertex's parent is its successor, so ``mode="root"`` sums over predecessors.
    """
    ids = torch.arange(length, device=device)
    if root_at_end:
        order = ids.flip(0)
        parent = torch.where(ids == length - 1, -1, ids + 1)
    else:
        order = ids
        parent = ids - 1
    return groot_core.BFS(order.expand(batch, length).contiguous(), parent.expand(batch, length).contiguous())


def _raster_scan(x: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
    chain = chain_tree(x.shape[0], x.shape[-1], root_at_end=True, device=x.device)
    # tree_scan weighs the edge (v, parent v) = (v, v+1) by decay[v]; Mamba's step v -> v+1 uses decay[v+1].
    successor_decay = torch.roll(decay, shifts=-1, dims=-1)
    return groot_core.tree_scan(x, successor_decay, chain, mode="root")


def _bidirectional_chain_scan(x: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
    chain = chain_tree(x.shape[0], x.shape[-1], root_at_end=False, device=x.device)
    return groot_core.tree_scan(x, decay, chain, mode="all")


def _column_major(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return t.unflatten(-1, (height, width)).transpose(-1, -2).flatten(-2)


def _cross_scan(x: torch.Tensor, decay: torch.Tensor, height: int, width: int) -> torch.Tensor:
    rows = _bidirectional_chain_scan(x, decay)
    columns = _bidirectional_chain_scan(_column_major(x, height, width), _column_major(decay, height, width))
    return rows + _column_major(columns, width, height)


def scan_grid(
    x: torch.Tensor,
    decay: torch.Tensor,
    *,
    scan: Scan,
    height: int,
    width: int,
    tree: groot_core.BFS | None = None,
) -> torch.Tensor:
    """Scan ``x`` ``(B, D, H*W)`` with per-token ``decay`` ``(B, D, H*W)``; returns ``(B, D, H*W)``.

    ``tree`` (from :func:`grid_tree`) is required for ``scan="tree"`` and ignored otherwise.
    """
    if scan == "tree":
        if tree is None:
            raise ValueError("scan='tree' needs the grid tree")
        return groot_core.tree_scan(x, decay, tree, mode="all")
    if scan == "raster":
        return _raster_scan(x, decay)
    if scan == "cross":
        return _cross_scan(x, decay, height, width)
    raise ValueError(f"scan must be 'tree', 'raster' or 'cross', got {scan!r}")
