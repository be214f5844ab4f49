"""groot_core.tree_scan and its backward against the O(L²) path-product brute force."""

from __future__ import annotations

import groot_core as gc
import pytest
import torch
from brute_force import assert_scan_close, grid_edges, kruskal, parents_from_edges
from brute_force import tree_scan as brute_force_scan
from random_trees import SHAPES, bfs_schedule, random_parents

MODES = ["all", "root"]
RTOL = {torch.float32: 1e-5, torch.float64: 1e-10}
GRIDS = [(1, 1), (1, 12), (12, 1), (7, 5), (16, 16), (56, 56)]


def grid_spanning_trees(batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """``(B, L-1, 2)`` minimum spanning trees of the grid under random weights (Kruskal, not groot)."""
    edges = grid_edges(height, width)
    trees = []
    for _ in range(batch):
        weights = torch.rand(len(edges), generator=generator)
        trees.append(edges[kruskal(edges, weights, height * width)])
    return torch.stack(trees)


def scan_inputs(
    batch: int, channels: int, vertices: int, dtype, generator, low: float = 0.0, high: float = 1.0
):
    x = torch.randn(batch, channels, vertices, generator=generator, dtype=torch.float64)
    decay = low + (high - low) * torch.rand(
        batch, channels, vertices, generator=generator, dtype=torch.float64
    )
    return x.to(dtype), decay.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: f"{g[0]}x{g[1]}")
def test_scan_of_grid_spanning_tree_matches_brute_force(grid, mode, dtype, rng):
    height, width = grid
    vertices = height * width
    batch, channels = 2, 3
    tree = grid_spanning_trees(batch, height, width, rng)
    x, decay = scan_inputs(batch, channels, vertices, dtype, rng)
    # 56×56: a sample of vertices keeps the O(L²) reference fast.
    rows = sorted(torch.randperm(vertices, generator=rng)[:6].tolist()) if vertices > 1000 else None
    parents = torch.stack([parents_from_edges(t, vertices, 0) for t in tree])
    expected, magnitude = brute_force_scan(x, decay, parents, mode, rows)
    y = gc.tree_scan(x, decay, tree, mode)  # edges: scheduled from vertex 0
    assert y.dtype == dtype and y.shape == x.shape
    assert_scan_close(y if rows is None else y[..., rows], expected, magnitude, RTOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("vertices", [2, 3, 41, 300])
def test_scan_of_random_tree_matches_brute_force(vertices, shape, mode, dtype, rng):
    batch, channels = 3, 4
    parents = torch.stack([random_parents(vertices, rng, shape) for _ in range(batch)])
    schedule = bfs_schedule(parents, rng)
    x, decay = scan_inputs(batch, channels, vertices, dtype, rng)
    expected, magnitude = brute_force_scan(x, decay, parents, mode)
    assert_scan_close(gc.tree_scan(x, decay, schedule, mode), expected, magnitude, RTOL[dtype])


@pytest.mark.parametrize("mode", MODES)
def test_scan_with_decays_of_any_sign_zero_and_one(mode, rng):
    vertices = 60
    parents = torch.stack([random_parents(vertices, rng) for _ in range(2)])
    x, decay = scan_inputs(2, 5, vertices, torch.float64, rng, low=-1.5, high=1.5)
    decay[0, 0, ::7] = 0.0
    decay[1, 1, ::5] = 1.0
    decay[1, 2, ::3] = -1.0
    expected, magnitude = brute_force_scan(x, decay, parents, mode)
    assert_scan_close(gc.tree_scan(x, decay, bfs_schedule(parents, rng), mode), expected, magnitude, 1e-10)


def test_single_vertex_scan_is_identity(rng):
    x, decay = scan_inputs(2, 3, 1, torch.float32, rng)
    tree = torch.empty(2, 0, 2, dtype=torch.int64)
    for mode in MODES:
        assert torch.equal(gc.tree_scan(x, decay, tree, mode), x)


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck(mode, rng):
    vertices = 11
    parents = torch.stack([random_parents(vertices, rng, shape) for shape in ("random", "deep")])
    schedule = bfs_schedule(parents, rng)
    x, decay = scan_inputs(2, 3, vertices, torch.float64, rng, low=-0.9, high=0.9)
    x.requires_grad_()
    decay.requires_grad_()
    assert torch.autograd.gradcheck(lambda a, w: gc.tree_scan(a, w, schedule, mode), (x, decay))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_gradients_match_brute_force_autograd(mode, dtype, rng):
    vertices = 35
    parents = torch.stack([random_parents(vertices, rng, shape) for shape in SHAPES])
    schedule = bfs_schedule(parents, rng)
    x, decay = scan_inputs(3, 4, vertices, dtype, rng)
    grad_y = torch.randn(3, 4, vertices, generator=rng, dtype=dtype)
    x64, decay64 = x.double().requires_grad_(), decay.double().requires_grad_()
    expected = torch.autograd.grad(
        (brute_force_scan(x64, decay64, parents, mode)[0] * grad_y.double()).sum(), (x64, decay64)
    )
    x.requires_grad_()
    decay.requires_grad_()
    result = torch.autograd.grad(gc.tree_scan(x, decay, schedule, mode), (x, decay), grad_y)
    tolerance = 1e-4 if dtype == torch.float32 else 1e-10
    for got, want in zip(result, expected, strict=True):
        assert got.dtype == dtype
        torch.testing.assert_close(
            got.double(), want, rtol=tolerance, atol=tolerance * want.abs().max().item()
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channels", [1, 4, 8, 9, 19])
def test_channel_counts_around_cpu_blocks(channels, mode, dtype, rng):
    """The CPU scan works on blocks of 8 float / 4 double channels of a sample, transposed in
    tiles of 4 / 2 vertices: whole blocks, partial blocks and both together, with a vertex count
    that is no multiple of a tile, forward and backward."""
    vertices, batch = 13, 2
    parents = torch.stack([random_parents(vertices, rng, shape) for shape in ("random", "deep")])
    schedule = bfs_schedule(parents, rng)
    x, decay = scan_inputs(batch, channels, vertices, dtype, rng, low=-0.9, high=0.9)
    grad_y = torch.randn(batch, channels, vertices, generator=rng, dtype=dtype)
    x64, decay64 = x.double().requires_grad_(), decay.double().requires_grad_()
    expected_y, magnitude = brute_force_scan(x64, decay64, parents, mode)
    expected = torch.autograd.grad((expected_y * grad_y.double()).sum(), (x64, decay64))
    x.requires_grad_()
    decay.requires_grad_()
    y = gc.tree_scan(x, decay, schedule, mode)
    assert_scan_close(y.detach(), expected_y.detach(), magnitude, RTOL[dtype])
    tolerance = 1e-4 if dtype == torch.float32 else 1e-10
    for got, want in zip(torch.autograd.grad(y, (x, decay), grad_y), expected, strict=True):
        torch.testing.assert_close(
            got.double(), want, rtol=tolerance, atol=tolerance * want.abs().max().item()
        )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("dtype", "rtol"), [(torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)], ids=str)
def test_reduced_precision_scan(dtype, rtol, mode, rng):
    """float16/bfloat16 accumulate in float32: only the final rounding to the input dtype is lost
    (half an ulp: 2^-11 for float16, 2^-8 for bfloat16, with margin)."""
    vertices = 7 * 9
    tree = grid_spanning_trees(2, 7, 9, rng)
    x, decay = scan_inputs(2, 6, vertices, dtype, rng)
    x.requires_grad_()
    decay.requires_grad_()
    y = gc.tree_scan(x, decay, tree, mode)
    assert y.dtype == dtype
    parents = torch.stack([parents_from_edges(t, vertices, 0) for t in tree])
    expected, magnitude = brute_force_scan(x.detach(), decay.detach(), parents, mode)
    assert_scan_close(y.detach(), expected, magnitude, rtol)
    grad_y = torch.randn(y.shape, generator=rng).to(dtype)
    grads = torch.autograd.grad(y, (x, decay), grad_y)
    x64, decay64 = x.detach().double().requires_grad_(), decay.detach().double().requires_grad_()
    exact = torch.autograd.grad(gc.tree_scan(x64, decay64, tree, mode), (x64, decay64), grad_y.double())
    for got, want in zip(grads, exact, strict=True):
        assert got.dtype == dtype
        torch.testing.assert_close(got.double(), want, rtol=rtol, atol=rtol * want.abs().max().item())


@pytest.mark.parametrize("mode", MODES)
def test_second_derivatives_are_right_or_refused(mode, rng):
    """A gradient penalty or Hessian through the scan must not be silently wrong: double backward
    either matches the brute force or raises."""
    parents = torch.stack([random_parents(12, rng) for _ in range(2)])
    schedule = bfs_schedule(parents, rng)
    x, decay = scan_inputs(2, 3, 12, torch.float64, rng)
    x.requires_grad_()
    decay.requires_grad_()

    def penalty(y):
        (grad_x,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        return torch.autograd.grad(grad_x.square().sum(), decay)[0]

    expected = penalty(brute_force_scan(x, decay, parents, mode)[0])
    try:
        result = penalty(gc.tree_scan(x, decay, schedule, mode))
    except (RuntimeError, NotImplementedError):
        return
    torch.testing.assert_close(result, expected, rtol=1e-8, atol=1e-8)
