"""The spanning tree drawn over the image."""

from __future__ import annotations

import numpy as np
import torch

from .canvas import upscale

_EDGE_COLOUR = np.array([255, 220, 64], dtype=np.uint8)


def draw_tree(rgb: np.ndarray, tree_edges: torch.Tensor, scale: int, dim: float = 0.45) -> np.ndarray:
    """The grid image ``rgb`` ``(H, W, 3)`` uint8, upscaled by ``scale``, dimmed, with the tree drawn on it.

    ``tree_edges`` ``(L-1, 2)`` are vertex ids (r·W + c) of 4-neighbours; each edge is a line between
    the centres of its two cells. Returns ``(H·scale, W·scale, 3)`` uint8.
    """
    w = rgb.shape[1]
    canvas = np.rint(upscale(rgb, scale) * dim).astype(np.uint8)
    edges = tree_edges.cpu().numpy()
    first, second = edges.min(axis=1), edges.max(axis=1)
    rows, cols = (first // w) * scale + scale // 2, (first % w) * scale + scale // 2
    vertical = second - first == w
    for step in range(scale + 1):
        canvas[rows[vertical] + step, cols[vertical]] = _EDGE_COLOUR
        canvas[rows[~vertical], cols[~vertical] + step] = _EDGE_COLOUR
    return canvas
