"""groot_core.reference, the documented debugging twin, agrees with groot_core."""

from __future__ import annotations

import groot_core as gc
import groot_core.reference as ref
import pytest
import torch
from random_trees import bfs_schedule, random_connected_graph, random_parents, tree_edges


def test_edge_lists():
    for h, w in [(0, 3), (1, 1), (1, 6), (6, 1), (5, 7)]:
        assert torch.equal(ref.grid_edges(h, w), gc.grid_edges(h, w))
    for n, k in [(0, 3), (1, 3), (2, 3), (20, 1), (20, 4)]:
        assert torch.equal(ref.sequence_edges(n, k), gc.sequence_edges(n, k))


@pytest.mark.parametrize("metric", ["cosine", "l1", "l2"])
def test_edge_weights(metric, rng):
    features = torch.randn(2, 7, 30, generator=rng, dtype=torch.float64)
    edges = ref.grid_edges(5, 6)
    torch.testing.assert_close(
        ref.edge_weights(features, edges, metric), gc.edge_weights(features, edges, metric)
    )


def test_minimum_spanning_tree_with_ties(rng):
    edges = random_connected_graph(40, 60, rng)
    weights = torch.randint(0, 3, (3, len(edges)), generator=rng).float()
    assert torch.equal(
        ref.minimum_spanning_tree(edges, weights, 40), gc.minimum_spanning_tree(edges, weights, 40)
    )


def test_bfs(rng):
    trees = torch.stack([tree_edges(random_parents(50, rng), rng) for _ in range(3)])
    for root in (0, 31):
        result, expected = ref.bfs(trees, 50, root), gc.bfs(trees, 50, root)
        assert torch.equal(result.order, expected.order) and torch.equal(result.parent, expected.parent)


@pytest.mark.parametrize("mode", ["all", "root"])
def test_tree_scan_and_gradients(mode, rng):
    schedule = bfs_schedule(torch.stack([random_parents(45, rng) for _ in range(2)]), rng)
    inputs = [
        torch.randn(2, 3, 45, generator=rng, dtype=torch.float64),
        torch.rand(2, 3, 45, generator=rng, dtype=torch.float64),
    ]
    grad_y = torch.randn(2, 3, 45, generator=rng, dtype=torch.float64)
    results = []
    for scan in (ref.tree_scan, gc.tree_scan):
        leaves = [t.clone().requires_grad_() for t in inputs]
        y = scan(*leaves, schedule, mode)
        results.append((y.detach(), *torch.autograd.grad(y, leaves, grad_y)))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_grid_tree_and_scan_of_tree_edges(rng):
    guide = torch.randn(2, 4, 7, 6, generator=rng)
    result, expected = ref.grid_tree(guide, "cosine", 5), gc.grid_tree(guide, "cosine", 5)
    assert torch.equal(result.order, expected.order) and torch.equal(result.parent, expected.parent)
    tree = gc.minimum_spanning_tree(gc.grid_edges(7, 6), torch.rand(2, 71, generator=rng), 42)
    x, decay = torch.randn(2, 3, 42, generator=rng), torch.rand(2, 3, 42, generator=rng)
    torch.testing.assert_close(ref.tree_scan(x, decay, tree), gc.tree_scan(x, decay, tree))
