"""Empty batches (B = 0) and empty channel sets (D = 0) give empty results from every operator."""

from __future__ import annotations

import groot_core as gc
import groot_core.numpy as gnp
import numpy as np
import pytest
import torch

MODES = ["all", "root"]


@pytest.mark.parametrize("vertices", [1, 12])
def test_every_torch_operator(vertices):
    edges = gc.sequence_edges(vertices, 2)
    weights = gc.edge_weights(torch.randn(0, 4, vertices), edges, "l2")
    assert weights.shape == (0, len(edges)) and weights.dtype == torch.float32
    assert gc.edge_weights(torch.randn(0, 4, vertices), edges.expand(0, -1, -1)).shape == (0, len(edges))
    tree = gc.minimum_spanning_tree(edges, weights, vertices)
    assert tree.shape == (0, vertices - 1, 2) and tree.dtype == torch.int64
    assert gc.minimum_spanning_tree(edges.expand(0, -1, -1), weights, vertices).shape == (0, vertices - 1, 2)
    schedule = gc.bfs(tree, vertices, vertices - 1)
    assert schedule.order.shape == schedule.parent.shape == (0, vertices)
    guide = torch.randn(0, 3, 1, vertices)
    assert gc.grid_tree(guide).order.shape == (0, vertices)
    for mode in MODES:
        for channels in (0, 5):
            x = torch.randn(0, channels, vertices, requires_grad=True)
            decay = torch.rand(0, channels, vertices, requires_grad=True)
            for tree_or_schedule in (tree, schedule):
                y = gc.tree_scan(x, decay, tree_or_schedule, mode)
                assert y.shape == x.shape
                grads = torch.autograd.grad(y, (x, decay), torch.ones_like(y))
                assert all(g.shape == x.shape for g in grads)


@pytest.mark.parametrize("mode", MODES)
def test_no_channels_with_a_batch(mode, rng):
    schedule = gc.grid_tree(torch.randn(3, 2, 4, 5, generator=rng))
    x, decay = torch.randn(3, 0, 20, requires_grad=True), torch.rand(3, 0, 20, requires_grad=True)
    y = gc.tree_scan(x, decay, schedule, mode)
    assert y.shape == (3, 0, 20)
    assert torch.autograd.grad(y, x, torch.ones_like(y))[0].shape == (3, 0, 20)


def test_every_numpy_function():
    edges = gnp.grid_edges(3, 4)
    weights = gnp.edge_weights(np.zeros((0, 2, 12)), edges)
    assert weights.shape == (0, len(edges))
    tree = gnp.minimum_spanning_tree(edges, weights, 12)
    assert tree.shape == (0, 11, 2)
    schedule = gnp.bfs(tree, 12)
    assert schedule.order.shape == (0, 12)
    assert gnp.grid_tree(np.zeros((0, 2, 3, 4))).parent.shape == (0, 12)
    x = np.zeros((0, 3, 12), dtype=np.float32)
    for mode in MODES:
        assert gnp.tree_scan(x, x, schedule, mode).shape == (0, 3, 12)
        assert [g.shape for g in gnp.tree_scan_backward(x, x, x, tree, mode)] == [(0, 3, 12)] * 2
