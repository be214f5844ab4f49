"""Strided, transposed, expanded and narrow-integer inputs work and give the contiguous answer."""

from __future__ import annotations

import groot_core as gc
import pytest
import torch
from random_trees import bfs_schedule, random_parents

B, C, H, W = 3, 5, 6, 7
L = H * W


def test_edge_weights_of_transposed_features_and_edges(rng):
    features = torch.randn(B, L, C, generator=rng).transpose(1, 2)
    edges = gc.grid_edges(H, W)
    expected = gc.edge_weights(features.contiguous(), edges, "cosine")
    assert torch.equal(gc.edge_weights(features, edges.T.contiguous().T, "cosine"), expected)
    assert torch.equal(gc.edge_weights(features, edges.expand(B, -1, -1), "cosine"), expected)
    assert torch.equal(gc.edge_weights(features, edges.int(), "cosine"), expected)
    sliced = torch.randn(B, 2 * C, L, generator=rng)[:, ::2]
    assert torch.equal(
        gc.edge_weights(sliced, edges, "l1"), gc.edge_weights(sliced.contiguous(), edges, "l1")
    )


def test_minimum_spanning_tree_of_strided_weights_and_edges(rng):
    edges = gc.grid_edges(H, W)
    weights = torch.rand(len(edges), B, generator=rng).T
    expected = gc.minimum_spanning_tree(edges, weights.contiguous(), L)
    assert torch.equal(gc.minimum_spanning_tree(edges.T.contiguous().T, weights, L), expected)
    assert torch.equal(gc.minimum_spanning_tree(edges.expand(B, -1, -1), weights, L), expected)
    assert torch.equal(gc.minimum_spanning_tree(edges.int(), weights, L), expected)
    every_other = torch.rand(B, 2 * len(edges), generator=rng)[:, ::2]
    assert torch.equal(
        gc.minimum_spanning_tree(edges, every_other, L),
        gc.minimum_spanning_tree(edges, every_other.contiguous(), L),
    )


def test_bfs_of_a_permuted_tree(rng):
    tree = gc.minimum_spanning_tree(gc.grid_edges(H, W), torch.rand(B, 71, generator=rng), L)
    strided = tree.permute(2, 1, 0).contiguous().permute(2, 1, 0)
    assert not strided.is_contiguous()
    for variant in (strided, tree.int()):
        result, expected = gc.bfs(variant, L, 4), gc.bfs(tree, L, 4)
        assert torch.equal(result.order, expected.order) and torch.equal(result.parent, expected.parent)


@pytest.mark.parametrize("mode", ["all", "root"])
def test_tree_scan_of_strided_inputs_and_schedule(mode, rng):
    schedule = bfs_schedule(torch.stack([random_parents(L, rng) for _ in range(B)]), rng)
    x = torch.randn(B, L, C, generator=rng, dtype=torch.float64).transpose(1, 2)
    decay = torch.rand(B, C, 2 * L, generator=rng, dtype=torch.float64)[..., 1::2]
    grad_y = torch.randn(C, B, L, generator=rng, dtype=torch.float64).transpose(0, 1)
    strided_schedule = gc.BFS(schedule.order.T.contiguous().T, schedule.parent.int())
    assert not (x.is_contiguous() or decay.is_contiguous() or grad_y.is_contiguous())

    def scan(x, decay, grad_y, schedule):
        x, decay = x.detach().requires_grad_(), decay.detach().requires_grad_()  # keeps the strides
        y = gc.tree_scan(x, decay, schedule, mode)
        return (y, *torch.autograd.grad(y, (x, decay), grad_y))

    expected = scan(x.contiguous(), decay.contiguous(), grad_y.contiguous(), schedule)
    for got, want in zip(scan(x, decay, grad_y, strided_schedule), expected, strict=True):
        assert torch.equal(got, want)


@pytest.mark.parametrize("mode", ["all", "root"])
def test_tree_scan_outputs_take_the_token_major_layout_of_x(mode, rng):
    """x.transpose(1, 2) of a (B, L, D) tensor gives y and both gradients with that memory layout
    (so a token-major model reads them back without a copy); any other x gives contiguous ones."""
    schedule = bfs_schedule(torch.stack([random_parents(L, rng) for _ in range(B)]), rng)
    token_major = torch.randn(B, L, C, generator=rng, dtype=torch.float64)
    decay = torch.rand(B, C, L, generator=rng, dtype=torch.float64)
    grad_y = torch.randn(B, C, L, generator=rng, dtype=torch.float64)
    for x, channels_last in (
        (token_major.transpose(1, 2), True),
        (token_major.permute(0, 2, 1)[:, ::2], False),
    ):
        x = x.detach().requires_grad_()
        d = decay[:, : x.shape[1]].detach().requires_grad_()
        y = gc.tree_scan(x, d, schedule, mode)
        grads = torch.autograd.grad(y, (x, d), grad_y[:, : x.shape[1]])
        for out in (y, *grads):
            assert out.transpose(1, 2).is_contiguous() if channels_last else out.is_contiguous()
        expected = gc.tree_scan(x.detach().contiguous(), d.detach(), schedule, mode)
        assert torch.equal(y, expected)


def test_grid_tree_of_channels_last_guide(rng):
    guide = torch.randn(B, C, H, W, generator=rng)
    result = gc.grid_tree(guide.to(memory_format=torch.channels_last))
    expected = gc.grid_tree(guide)
    assert torch.equal(result.order, expected.order) and torch.equal(result.parent, expected.parent)
