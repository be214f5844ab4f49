"""groot_core.numpy gives the results of the torch operators, on NumPy arrays."""

from __future__ import annotations

import groot_core as gc
import groot_core.numpy as gnp
import numpy as np
import pytest
import torch
from random_trees import bfs_schedule, random_connected_graph, random_parents

MODES = ["all", "root"]


def assert_same(array: np.ndarray, tensor: torch.Tensor):
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.dtype(str(tensor.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(array, tensor.numpy())


def test_edge_lists():
    for h, w in [(0, 3), (1, 1), (4, 7)]:
        assert_same(gnp.grid_edges(h, w), gc.grid_edges(h, w))
    for n, k in [(0, 3), (1, 3), (9, 2), (30, 5)]:
        assert_same(gnp.sequence_edges(n, k), gc.sequence_edges(n, k))
    assert_same(gnp.sequence_edges(9), gc.sequence_edges(9))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("metric", ["cosine", "l1", "l2"])
def test_edge_weights(metric, dtype, rng):
    features = torch.randn(3, 5, 42, generator=rng, dtype=dtype)
    shared = gc.grid_edges(6, 7)
    per_graph = torch.stack([random_connected_graph(42, 30, rng) for _ in range(3)])
    for edges in (shared, per_graph):
        assert_same(
            gnp.edge_weights(features.numpy(), edges.numpy(), metric),
            gc.edge_weights(features, edges, metric),
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_minimum_spanning_tree_and_bfs(dtype, rng):
    edges = gc.grid_edges(9, 8)
    weights = torch.randint(0, 3, (4, len(edges)), generator=rng).to(dtype)  # ties decide
    tree = gc.minimum_spanning_tree(edges, weights, 72)
    assert_same(gnp.minimum_spanning_tree(edges.numpy(), weights.numpy(), 72), tree)
    per_graph = torch.stack([random_connected_graph(72, 50, rng) for _ in range(4)])
    assert_same(
        gnp.minimum_spanning_tree(per_graph.numpy(), weights[:, :121].numpy(), 72),
        gc.minimum_spanning_tree(per_graph, weights[:, :121], 72),
    )
    for root in (0, 40):
        result, expected = gnp.bfs(tree.numpy(), 72, root), gc.bfs(tree, 72, root)
        assert isinstance(result, gnp.BFS)
        assert_same(result.order, expected.order)
        assert_same(result.parent, expected.parent)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_tree_scan_and_its_backward(mode, dtype, rng):
    parents = torch.stack([random_parents(50, rng) for _ in range(3)])
    schedule = bfs_schedule(parents, rng)
    x = torch.randn(3, 4, 50, generator=rng, dtype=dtype, requires_grad=True)
    decay = torch.rand(3, 4, 50, generator=rng, dtype=dtype, requires_grad=True)
    grad_y = torch.randn(3, 4, 50, generator=rng, dtype=dtype)
    y = gc.tree_scan(x, decay, schedule, mode)
    grad_x, grad_decay = torch.autograd.grad(y, (x, decay), grad_y)
    arrays = x.detach().numpy(), decay.detach().numpy()
    numpy_schedule = gnp.BFS(schedule.order.numpy(), schedule.parent.numpy())
    assert_same(gnp.tree_scan(*arrays, numpy_schedule, mode), y.detach())
    numpy_grads = gnp.tree_scan_backward(grad_y.numpy(), *arrays, numpy_schedule, mode)
    assert_same(numpy_grads[0], grad_x)
    assert_same(numpy_grads[1], grad_decay)


def test_tree_scan_of_tree_edges_and_grid_tree(rng):
    guide = torch.randn(2, 3, 6, 9, generator=rng)
    schedule = gc.grid_tree(guide, "l2", root=13)
    numpy_schedule = gnp.grid_tree(guide.numpy(), "l2", root=13)
    assert_same(numpy_schedule.order, schedule.order)
    assert_same(numpy_schedule.parent, schedule.parent)
    tree = gc.minimum_spanning_tree(gc.grid_edges(6, 9), torch.rand(2, 93, generator=rng), 54)
    x, decay = torch.randn(2, 3, 54, generator=rng), torch.rand(2, 3, 54, generator=rng)
    assert_same(gnp.tree_scan(x.numpy(), decay.numpy(), tree.numpy()), gc.tree_scan(x, decay, tree))


def test_strided_arrays_and_narrow_ids(rng):
    """Transposed/strided arrays and int32 ids: the module converts them (documented)."""
    parents = torch.stack([random_parents(40, rng) for _ in range(2)])
    schedule = bfs_schedule(parents, rng)
    x = torch.randn(2, 40, 3, generator=rng, dtype=torch.float64).transpose(1, 2)
    decay = torch.rand(2, 3, 80, generator=rng, dtype=torch.float64)[..., ::2]
    expected = gc.tree_scan(x, decay, schedule)
    narrow = gnp.BFS(schedule.order.numpy().astype(np.int32), schedule.parent.numpy().astype(np.int32))
    np.testing.assert_array_equal(gnp.tree_scan(x.numpy(), decay.numpy(), narrow), expected.numpy())


def test_float16_arrays_are_computed_in_float32(rng):
    parents = torch.stack([random_parents(30, rng)])
    schedule = bfs_schedule(parents, rng)
    x, decay = torch.randn(1, 2, 30, generator=rng).half(), torch.rand(1, 2, 30, generator=rng).half()
    result = gnp.tree_scan(x.numpy(), decay.numpy(), gnp.BFS(schedule.order.numpy(), schedule.parent.numpy()))
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, gc.tree_scan(x.float(), decay.float(), schedule).numpy())


def test_thread_count_does_not_change_results(rng):
    guide = np.random.default_rng(0).standard_normal((4, 8, 40, 40), dtype=np.float32)
    results = []
    for threads in (1, 2, 0):
        gnp.set_num_threads(threads)
        results.append(gnp.grid_tree(guide))
    for result in results[1:]:
        np.testing.assert_array_equal(result.order, results[0].order)
        np.testing.assert_array_equal(result.parent, results[0].parent)
