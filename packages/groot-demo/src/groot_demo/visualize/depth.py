"""Depth of every vertex in a BFS of a tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from groot_core import BFS


def bfs_depth(tree: BFS) -> np.ndarray:
    """Number of tree edges from the root to each vertex: ``(L,)`` int64, for the first tree of ``tree``."""
    order = tree.order[0].cpu().numpy()
    parent = tree.parent[0].cpu().numpy()
    depth = np.zeros(order.shape[0], dtype=np.int64)
    # BFS order lists every parent before its children.
    for vertex in order[1:]:
        depth[vertex] = depth[parent[vertex]] + 1
    return depth
