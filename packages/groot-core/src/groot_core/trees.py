"""Building trees: graphs, edge weights, minimum spanning trees and BFS schedules (torch API)."""

from __future__ import annotations

import torch

from . import ops as _ops  # noqa: F401  (registers torch.ops.groot)
from ._types import BFS, Metric

__all__ = ["bfs", "edge_weights", "grid_edges", "grid_tree", "minimum_spanning_tree", "sequence_edges"]

Device = torch.device | str | None


def _device(device: Device) -> torch.device | None:
    return None if device is None else torch.device(device)


def grid_edges(height: int, width: int, *, device: Device = None) -> torch.Tensor:
    """Edges of the 4-connected ``height × width`` pixel grid.

    Returns:
        ``(E, 2)`` int64, E = (h-1)·w + h·(w-1): every vertical pair ``(r,c)-(r+1,c)`` in
        row-major order, then every horizontal pair ``(r,c)-(r,c+1)``; vertex id ``r·width + c``.
    """
    return torch.ops.groot.grid_edges(height, width, device=_device(device))


def sequence_edges(length: int, window: int = 3, *, device: Device = None) -> torch.Tensor:
    """Edges linking each of ``length`` tokens to its previous ``window`` tokens.

    Returns:
        ``(E, 2)`` int64 pairs ``(t-j, t)``, grouped by offset j = 1..window, each group by t.
    """
    return torch.ops.groot.sequence_edges(length, window, device=_device(device))


def edge_weights(features: torch.Tensor, edges: torch.Tensor, metric: Metric = "cosine") -> torch.Tensor:
    """Dissimilarity of the features at the two ends of every edge.

    Args:
        features: ``(B, C, L)`` floating point, any strides; ``(B, L, C)`` memory (the
            ``transpose(1, 2)`` of a token-major tensor, or a channels-last feature map's
            ``reshape(B, C, H * W)``) is read in place, other layouts are copied first.
        edges: ``(E, 2)`` shared by the batch, or ``(B, E, 2)``.
        metric: ``"cosine"`` (1 - cosine similarity), ``"l1"`` or ``"l2"`` (squared).

    Returns:
        ``(B, E)``, float64 for float64 features, else float32. Not differentiable: weights only
        choose the tree.
    """
    return torch.ops.groot.edge_weights(features.detach(), edges, metric)


def minimum_spanning_tree(edges: torch.Tensor, weights: torch.Tensor, num_vertices: int) -> torch.Tensor:
    """Minimum spanning tree of each of B graphs (Borůvka).

    Ties are broken by edge index (the lower wins), so the tree is unique and equals Kruskal's
    with a stable sort.

    Args:
        edges: ``(E, 2)`` shared by the batch, or ``(B, E, 2)``; vertex ids in ``[0, num_vertices)``.
        weights: ``(B, E)`` finite.
        num_vertices: L.

    Returns:
        ``(B, L-1, 2)`` int64 tree edges, in the order they appear in ``edges``.
    """
    return torch.ops.groot.minimum_spanning_tree(edges, weights.detach(), num_vertices)


def bfs(tree: torch.Tensor, num_vertices: int, root: int = 0) -> BFS:
    """Breadth-first schedule of each tree from ``root``.

    Args:
        tree: ``(B, L-1, 2)`` edges of spanning trees over ``num_vertices`` = L vertices.
        root: the vertex every tree is rooted at.

    Returns:
        :class:`BFS` with ``order`` and ``parent``, both ``(B, L)`` int64; ``parent`` is -1 at the
        root. Neighbours are visited in tree-edge order, so the schedule is deterministic.
    """
    order, parent = torch.ops.groot.bfs(tree, num_vertices, root)
    return BFS(order, parent)


def grid_tree(guide: torch.Tensor, metric: Metric = "cosine", root: int = 0) -> BFS:
    """The BFS-scheduled minimum spanning tree of a feature map's 4-connected grid.

    Args:
        guide: ``(B, C, H, W)`` features that weight the edges.
        metric: edge dissimilarity, see :func:`edge_weights`.
        root: vertex id ``r·W + c`` of the root.

    Returns:
        :class:`BFS` over the ``H·W`` vertices.
    """
    if guide.dim() != 4:
        raise ValueError(f"guide must have shape (B, C, H, W), got {tuple(guide.shape)}")
    if not guide.is_floating_point():
        raise ValueError(f"guide must be a floating-point tensor, got {guide.dtype}")
    batch, channels, height, width = guide.shape
    edges = grid_edges(height, width, device=guide.device)
    weights = edge_weights(guide.reshape(batch, channels, height * width), edges, metric)
    tree = minimum_spanning_tree(edges, weights, height * width)
    return bfs(tree, height * width, root)
