"""Affinity S(click, ·): how strongly each pixel is connected to a clicked pixel under a scan.

S(i, j) is the product of the edge decays along the path that carries j's input to i: the tree path
for the tree scan, the stretch of the 1-D sequence between them for raster and cross scans. The
low-level functions take log decays and return ``(L,)`` tensors; the ``*_map`` functions take
features ``(1, C, H, W)`` and an :class:`EdgeDecay` and return ``(H, W)`` float arrays in [0, 1].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import groot_core
import numpy as np
import torch

from .decay import EdgeDecay

if TYPE_CHECKING:
    from groot_core import BFS

Direction = Literal["both", "forward", "backward"]


def tree_affinity(log_decay: torch.Tensor, tree: BFS, click: int) -> torch.Tensor:
    """Path product S(click, j) over a tree, for all j: ``(L,)``.

    ``log_decay[v]`` ``(L,)`` is the log decay of tree edge (v, parent(v)); the root's entry is unused.
    A tree scan of a one-hot input at the click gives y_j = S(j, click) = S(click, j).
    """
    num_vertices = log_decay.shape[0]
    one_hot = torch.zeros(1, 1, num_vertices, dtype=log_decay.dtype, device=log_decay.device)
    one_hot[0, 0, click] = 1
    return groot_core.tree_scan(one_hot, log_decay.exp().reshape(1, 1, -1), tree, mode="all")[0, 0]


def chain_affinity(
    log_decay: torch.Tensor, order: torch.Tensor, click: int, direction: Direction = "both"
) -> torch.Tensor:
    """Path product S(click, j) along the 1-D sequence ``order`` ``(L,)`` (vertex ids), for all j: ``(L,)``.

    ``log_decay[k]`` ``(L-1,)`` belongs to the link between ``order[k]`` and ``order[k+1]``.
    ``direction`` ``"forward"`` keeps the j at or before the click in the sequence (those a causal scan
    carries into the click), ``"backward"`` those at or after it, ``"both"`` all of them.
    """
    # Prefix sums in float64: a 256×256 raster chain sums 65 535 logs.
    prefix = torch.cat([log_decay.new_zeros(1, dtype=torch.float64), log_decay.double().cumsum(0)])
    position = torch.empty_like(order)
    position[order] = torch.arange(order.shape[0], device=order.device)
    offset = prefix[position] - prefix[position[click]]
    after = position >= position[click]
    log_affinity = torch.where(after, offset, -offset)
    affinity = log_affinity.exp()
    if direction == "forward":
        affinity = torch.where(after & (position != position[click]), 0.0, affinity)
    elif direction == "backward":
        affinity = torch.where(after, affinity, 0.0)
    return affinity.to(log_decay.dtype)


def raster_order(h: int, w: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Vertex ids ``(h·w,)`` row by row (the order a flattened 1-D scan visits them)."""
    return torch.arange(h * w, device=device)


def column_order(h: int, w: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Vertex ids ``(h·w,)`` column by column."""
    return torch.arange(h * w, device=device).reshape(h, w).T.reshape(-1)


def tree_affinity_map(
    features: torch.Tensor, tree: BFS, decay: EdgeDecay, click: tuple[int, int]
) -> np.ndarray:
    """S(click, ·) ``(H, W)`` over the spanning ``tree`` of the grid of ``features`` ``(1, C, H, W)``."""
    _, channels, h, w = features.shape
    flat = features.reshape(1, channels, h * w)
    children = tree.order[0, 1:]
    log_decay = torch.zeros(h * w, dtype=flat.dtype, device=flat.device)
    log_decay[children] = decay.log_decay(flat, torch.stack([children, tree.parent[0, children]], dim=1))
    return _to_map(tree_affinity(log_decay, tree, _vertex(click, w)), h, w)


def raster_affinity_map(features: torch.Tensor, decay: EdgeDecay, click: tuple[int, int]) -> np.ndarray:
    """S(click, ·) ``(H, W)`` along the raster-order chain, in both directions."""
    _, _, h, w = features.shape
    order = raster_order(h, w, device=features.device)
    return _to_map(chain_affinity(_chain_log_decay(features, order, decay), order, _vertex(click, w)), h, w)


def cross_affinity_map(features: torch.Tensor, decay: EdgeDecay, click: tuple[int, int]) -> np.ndarray:
    """S(click, ·) ``(H, W)`` of VMamba's cross scan: the mean over its four causal 1-D scans.

    The four scans run row by row and column by column, each forwards and backwards; a pixel reaches
    the click through those scans that visit it before the click.
    """
    _, _, h, w = features.shape
    click_vertex = _vertex(click, w)
    total = torch.zeros(h * w, dtype=features.dtype, device=features.device)
    for order in (raster_order(h, w, device=features.device), column_order(h, w, device=features.device)):
        log_decay = _chain_log_decay(features, order, decay)
        for direction in ("forward", "backward"):
            total += chain_affinity(log_decay, order, click_vertex, direction)
    return _to_map(total / 4, h, w)


def _chain_log_decay(features: torch.Tensor, order: torch.Tensor, decay: EdgeDecay) -> torch.Tensor:
    channels = features.shape[1]
    flat = features.reshape(1, channels, -1)
    return decay.log_decay(flat, torch.stack([order[:-1], order[1:]], dim=1))


def _vertex(click: tuple[int, int], w: int) -> int:
    row, col = click
    return row * w + col


def _to_map(affinity: torch.Tensor, h: int, w: int) -> np.ndarray:
    return affinity.detach().reshape(h, w).float().cpu().numpy()
