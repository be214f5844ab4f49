"""The tree scan (torch API)."""

from __future__ import annotations

import torch

from ._types import BFS, ScanMode
from .trees import bfs

__all__ = ["tree_scan"]


def tree_scan(
    x: torch.Tensor, decay: torch.Tensor, tree: BFS | torch.Tensor, mode: ScanMode = "all"
) -> torch.Tensor:
    """Aggregate ``x`` along a tree: ``y_i = Σ_j S(i, j) x_j``.

    S(i, j) is the product of the edge weights on the tree path between i and j; the edge from v
    to its parent has weight ``decay[b, d, v]``.

    Args:
        x: ``(B, D, L)`` floating point, any strides. Token-major models should pass
            ``x.transpose(1, 2)`` of their ``(B, L, D)`` tensor as it is: that layout is scanned
            as it lies, with no copy, on either device (the GPU's fastest path) and kept by the
            outputs.
        decay: ``(B, D, L)``, same dtype; typically in (0, 1), e.g. Mamba's ``exp(Δ·A)``.
        tree: a :class:`BFS` schedule, or ``(B, L-1, 2)`` tree edges (then scheduled from vertex 0).
        mode: ``"all"`` sums over every vertex j (vision); ``"root"`` only over j in the subtree of
            i, a leaves→root pass (causal language models root the tree at the last token).

    Returns:
        ``(B, D, L)`` in the dtype of x (float16/bfloat16 accumulate in float32), differentiable
        with respect to x and decay. Its memory is ``(B, L, D)`` when x's is (so is that of the
        gradients), else contiguous.
    """
    if not isinstance(tree, BFS):
        if x.dim() != 3 or x.shape[-1] < 1:
            raise ValueError(f"x must have shape (B, D, L) with L >= 1, got {tuple(x.shape)}")
        tree = bfs(tree, x.shape[-1])
    return torch.ops.groot.tree_scan(x, decay, tree.order, tree.parent, mode)
