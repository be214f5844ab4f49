"""Operators never write to their inputs and write every element of their outputs.

Unwritten outputs would show leftovers of freed memory: before each call the allocator is handed
blocks of the outputs' sizes filled with 0xFF (NaN as floats, -1 as int64) and freed again, so
that the outputs are likely to reuse them.
"""

from __future__ import annotations

import groot_core as gc
import groot_core.numpy as gnp
import groot_core.reference as ref
import numpy as np
import pytest
import torch

B, C, D, H, W = 2, 6, 8, 20, 24
L = H * W


def poison(*like: torch.Tensor) -> None:
    for _ in range(3):
        blocks = [
            torch.full((t.numel() * t.element_size(),), 0xFF, dtype=torch.uint8)
            for t in like
            for _ in range(2)
        ]
        del blocks


@pytest.fixture
def inputs(rng):
    guide = torch.randn(B, C, H, W, generator=rng)
    edges = gc.grid_edges(H, W)
    weights = torch.rand(B, len(edges), generator=rng)
    tree = ref.minimum_spanning_tree(edges, weights, L)
    schedule = ref.bfs(tree, L, 7)
    return {
        "guide": guide,
        "features": guide.reshape(B, C, L),
        "edges": edges,
        "weights": weights,
        "tree": tree,
        "order": schedule.order,
        "parent": schedule.parent,
        "x": torch.randn(B, D, L, generator=rng),
        "decay": torch.rand(B, D, L, generator=rng),
        "grad_y": torch.randn(B, D, L, generator=rng),
    }


def test_outputs_are_fully_written(inputs):
    features, edges, weights, tree = inputs["features"], inputs["edges"], inputs["weights"], inputs["tree"]
    expected_weights = ref.edge_weights(features, edges, "l2")
    poison(expected_weights)
    torch.testing.assert_close(gc.edge_weights(features, edges, "l2"), expected_weights)

    poison(tree)
    assert torch.equal(gc.minimum_spanning_tree(edges, weights, L), tree)

    expected = gc.BFS(inputs["order"], inputs["parent"])
    poison(expected.order, expected.parent)
    result = gc.bfs(tree, L, 7)
    assert torch.equal(result.order, expected.order) and torch.equal(result.parent, expected.parent)

    x, decay, grad_y = inputs["x"], inputs["decay"], inputs["grad_y"]
    for mode in ("all", "root"):
        exact = torch.ops.groot.tree_scan_backward(
            grad_y.double(), x.double(), decay.double(), *expected, mode
        )
        exact_y = gc.tree_scan(x.double(), decay.double(), expected, mode)
        poison(x, x, x)
        y = gc.tree_scan(x, decay, expected, mode)
        poison(x, x, x)
        grads = torch.ops.groot.tree_scan_backward(grad_y, x, decay, *expected, mode)
        for got, want in zip((y, *grads), (exact_y, *exact), strict=True):
            assert torch.isfinite(got).all()
            torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4 * want.abs().max().item())


def test_inputs_are_left_unchanged(inputs):
    originals = {name: value.clone() for name, value in inputs.items()}
    schedule = gc.BFS(inputs["order"], inputs["parent"])
    x = inputs["x"].requires_grad_()
    decay = inputs["decay"].requires_grad_()
    for mode in ("all", "root"):
        y = gc.tree_scan(x, decay, schedule, mode)
        torch.autograd.grad(y, (x, decay), inputs["grad_y"])
        gc.tree_scan(x, decay, inputs["tree"], mode)
        torch.ops.groot.tree_scan_backward(inputs["grad_y"], x.detach(), decay.detach(), *schedule, mode)
    gc.grid_tree(inputs["guide"])
    gc.edge_weights(inputs["features"], inputs["edges"])
    gc.minimum_spanning_tree(inputs["edges"], inputs["weights"], L)
    gc.bfs(inputs["tree"], L, 3)
    arrays = {name: value.detach().numpy() for name, value in inputs.items()}
    numpy_schedule = gnp.BFS(arrays["order"], arrays["parent"])
    gnp.grid_tree(arrays["guide"])
    gnp.edge_weights(arrays["features"], arrays["edges"])
    gnp.minimum_spanning_tree(arrays["edges"], arrays["weights"], L)
    gnp.bfs(arrays["tree"], L, 3)
    gnp.tree_scan(arrays["x"], arrays["decay"], numpy_schedule)
    gnp.tree_scan_backward(arrays["grad_y"], arrays["x"], arrays["decay"], numpy_schedule, "root")
    for name, original in originals.items():
        assert torch.equal(inputs[name].detach(), original), name
    assert np.shares_memory(arrays["x"], inputs["x"].detach().numpy())  # the checks above saw the NumPy calls
