"""Loads the compiled operators (``torch.ops.groot``) and registers what PyTorch needs beside the
kernels: fake implementations, so ``torch.compile`` and ``opcheck`` can trace the ops without
running them, and the tree scan's backward formula."""

from __future__ import annotations

import torch

from . import _C

#: Whether this build carries the CUDA kernels.
with_cuda: bool = _C.with_cuda


def _floating_result(dtype: torch.dtype) -> torch.dtype:
    # Weights of float16/bfloat16 features are computed and returned in float32.
    return torch.float64 if dtype == torch.float64 else torch.float32


def _grid_edge_count(height: int, width: int) -> int:
    if height < 0 or width < 0:
        raise ValueError(f"height and width must be non-negative, got {height}×{width}")
    return 0 if height == 0 or width == 0 else (height - 1) * width + height * (width - 1)


def _sequence_edge_count(length: int, window: int) -> int:
    if length < 0 or window < 1:
        raise ValueError(f"need length >= 0 and window >= 1, got length {length}, window {window}")
    return sum(length - j for j in range(1, min(window, max(length - 1, 0)) + 1))


@torch.library.register_fake("groot::grid_edges")
def _grid_edges_fake(height, width, *, device=None):
    return torch.empty(_grid_edge_count(height, width), 2, dtype=torch.int64, device=device)


@torch.library.register_fake("groot::sequence_edges")
def _sequence_edges_fake(length, window, *, device=None):
    return torch.empty(_sequence_edge_count(length, window), 2, dtype=torch.int64, device=device)


@torch.library.register_fake("groot::edge_weights")
def _edge_weights_fake(features, edges, metric):
    return features.new_empty(features.shape[0], edges.shape[-2], dtype=_floating_result(features.dtype))


@torch.library.register_fake("groot::minimum_spanning_tree")
def _minimum_spanning_tree_fake(edges, weights, num_vertices):
    return weights.new_empty(weights.shape[0], num_vertices - 1, 2, dtype=torch.int64)


@torch.library.register_fake("groot::bfs")
def _bfs_fake(tree, num_vertices, root):
    shape = (tree.shape[0], num_vertices)
    return tree.new_empty(shape, dtype=torch.int64), tree.new_empty(shape, dtype=torch.int64)


def _is_channels_last(x: torch.Tensor) -> bool:
    """(B, D, L) with (B, L, D) memory: the layout the scan keeps (csrc/torch/arguments.hpp)."""
    return x.dim() == 3 and not x.is_contiguous() and x.transpose(1, 2).is_contiguous()


def _scan_output_like(x: torch.Tensor) -> torch.Tensor:
    if _is_channels_last(x):
        return x.new_empty(x.shape[0], x.shape[2], x.shape[1]).transpose(1, 2)
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@torch.library.register_fake("groot::tree_scan")
def _tree_scan_fake(x, decay, order, parent, mode):
    return _scan_output_like(x)


@torch.library.register_fake("groot::tree_scan_backward")
def _tree_scan_backward_fake(grad_y, x, decay, order, parent, mode):
    return _scan_output_like(x), _scan_output_like(x)


def _tree_scan_setup_context(ctx, inputs, output):
    x, decay, order, parent, mode = inputs
    ctx.save_for_backward(x, decay, order, parent)
    ctx.mode = mode


def _tree_scan_backward(ctx, grad_y):
    x, decay, order, parent = ctx.saved_tensors
    # The backward recomputes the leaves→root sums from x instead of saving them: O(L) work that
    # spares a (B, D, L) buffer per scan.
    grad_x, grad_decay = torch.ops.groot.tree_scan_backward(grad_y, x, decay, order, parent, ctx.mode)
    return grad_x, grad_decay, None, None, None


torch.library.register_autograd(
    "groot::tree_scan", _tree_scan_backward, setup_context=_tree_scan_setup_context
)


def _no_double_backward(ctx, grad_x, grad_decay):
    # Second derivatives of the scan are not implemented: refuse rather than return zeros.
    raise RuntimeError("groot: double backward through tree_scan is not supported")


def _no_context(ctx, inputs, output):
    pass


torch.library.register_autograd("groot::tree_scan_backward", _no_double_backward, setup_context=_no_context)
