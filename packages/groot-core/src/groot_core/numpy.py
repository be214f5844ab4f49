"""The groot core on NumPy arrays: same functions and semantics as the torch API, no tensors.

Arrays may be non-contiguous and any integer dtype for ids; float16 inputs are computed in
float32. Gradients of the scan come from :func:`tree_scan_backward` (NumPy has no autograd).
"""

from __future__ import annotations

import numpy as np

from . import _numpy
from ._types import BFS, Metric, ScanMode

__all__ = [
    "BFS",
    "bfs",
    "edge_weights",
    "grid_edges",
    "grid_tree",
    "minimum_spanning_tree",
    "sequence_edges",
    "set_num_threads",
    "tree_scan",
    "tree_scan_backward",
]


def _floating(array: np.ndarray, name: str, rank: int, layout: str) -> np.ndarray:
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name} must be a floating-point array, got {array.dtype}")
    if array.ndim != rank:
        raise ValueError(f"{name} must have shape {layout}, got {array.shape}")
    dtype = np.float64 if array.dtype == np.float64 else np.float32
    return np.ascontiguousarray(array, dtype=dtype)


def _ids(array: np.ndarray, name: str, ranks: tuple[int, ...], layout: str) -> np.ndarray:
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array of vertex ids, got {array.dtype}")
    if array.ndim not in ranks:
        raise ValueError(f"{name} must have shape {layout}, got {array.shape}")
    return np.ascontiguousarray(array, dtype=np.int64)


def set_num_threads(n: int) -> None:
    """Threads used by the NumPy functions (n < 1: all hardware threads)."""
    _numpy.set_num_threads(n)


def grid_edges(height: int, width: int) -> np.ndarray:
    """``(E, 2)`` int64 edges of the 4-connected grid, vertical pairs then horizontal, row-major."""
    return _numpy.grid_edges(height, width)


def sequence_edges(length: int, window: int = 3) -> np.ndarray:
    """``(E, 2)`` int64 pairs ``(t-j, t)`` for j = 1..window, grouped by j."""
    return _numpy.sequence_edges(length, window)


def edge_weights(features: np.ndarray, edges: np.ndarray, metric: Metric = "cosine") -> np.ndarray:
    """``(B, E)`` dissimilarities of ``(B, C, L)`` features across ``(E, 2)``/``(B, E, 2)`` edges."""
    features = _floating(features, "features", 3, "(B, C, L)")
    edges = _ids(edges, "edges", (2, 3), "(E, 2) or (B, E, 2)")
    return _numpy.edge_weights(features, edges, metric)


def _check_vertices(num_vertices: int) -> None:
    if num_vertices < 1:
        raise ValueError(f"num_vertices must be at least 1, got {num_vertices}")


def minimum_spanning_tree(edges: np.ndarray, weights: np.ndarray, num_vertices: int) -> np.ndarray:
    """``(B, L-1, 2)`` minimum spanning tree edges (ties broken by the lower edge index)."""
    _check_vertices(num_vertices)
    weights = _floating(weights, "weights", 2, "(B, E)")
    edges = _ids(edges, "edges", (2, 3), "(E, 2) or (B, E, 2)")
    if edges.shape[-2:] != (weights.shape[1], 2):
        raise ValueError(f"edges must have shape (E, 2) with E = {weights.shape[1]}, got {edges.shape}")
    return _numpy.minimum_spanning_tree(edges, weights, num_vertices)


def bfs(tree: np.ndarray, num_vertices: int, root: int = 0) -> BFS:
    """BFS schedule ``(order, parent)``, each ``(B, L)``, of ``(B, L-1, 2)`` trees."""
    _check_vertices(num_vertices)
    tree = _ids(tree, "tree", (3,), "(B, L-1, 2)")
    if tree.shape[1:] != (num_vertices - 1, 2):
        raise ValueError(f"tree must have shape (B, {num_vertices - 1}, 2), got {tree.shape}")
    return BFS(*_numpy.bfs(tree, num_vertices, root))


def _scan_inputs(x: np.ndarray, decay: np.ndarray, tree: BFS | np.ndarray):
    x = _floating(x, "x", 3, "(B, D, L)")
    decay = _floating(decay, "decay", 3, "(B, D, L)").astype(x.dtype, copy=False)
    if decay.shape != x.shape:
        raise ValueError(f"decay must have the shape of x {x.shape}, got {decay.shape}")
    if not isinstance(tree, BFS):
        tree = bfs(tree, x.shape[-1])
    order = _ids(tree.order, "order", (2,), "(B, L)")
    parent = _ids(tree.parent, "parent", (2,), "(B, L)")
    return x, decay, order, parent


def tree_scan(x: np.ndarray, decay: np.ndarray, tree: BFS | np.ndarray, mode: ScanMode = "all") -> np.ndarray:
    """``y_i = Σ_j S(i, j) x_j`` over ``(B, D, L)`` arrays; see :func:`groot_core.tree_scan`."""
    return _numpy.tree_scan(*_scan_inputs(x, decay, tree), mode)


def tree_scan_backward(
    grad_y: np.ndarray, x: np.ndarray, decay: np.ndarray, tree: BFS | np.ndarray, mode: ScanMode = "all"
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients ``(grad_x, grad_decay)`` of ``Σ grad_y · tree_scan(x, decay, tree, mode)``."""
    x, decay, order, parent = _scan_inputs(x, decay, tree)
    grad_y = _floating(grad_y, "grad_y", 3, "(B, D, L)").astype(x.dtype, copy=False)
    return _numpy.tree_scan_backward(grad_y, x, decay, order, parent, mode)


def grid_tree(guide: np.ndarray, metric: Metric = "cosine", root: int = 0) -> BFS:
    """BFS-scheduled MST of the 4-connected grid of a ``(B, C, H, W)`` guide."""
    guide = _floating(guide, "guide", 4, "(B, C, H, W)")
    batch, channels, height, width = guide.shape
    edges = grid_edges(height, width)
    weights = edge_weights(guide.reshape(batch, channels, height * width), edges, metric)
    return bfs(minimum_spanning_tree(edges, weights, height * width), height * width, root)
