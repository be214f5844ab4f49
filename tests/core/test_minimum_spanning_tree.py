"""groot_core.minimum_spanning_tree against SciPy (total weight) and a stable Kruskal (exact edges)."""

from __future__ import annotations

import groot_core as gc
import pytest
import scipy.sparse
import scipy.sparse.csgraph
import torch
from brute_force import grid_edges, kruskal, sequence_edges
from random_trees import random_connected_graph


def edge_indices(tree: torch.Tensor, edges: torch.Tensor) -> list[int]:
    """Positions in ``edges`` of the tree's edges, taking each as a subsequence (input order)."""
    pairs, wanted = edges.tolist(), tree.tolist()
    positions, k = [], 0
    for position, pair in enumerate(pairs):
        if k < len(wanted) and pair == wanted[k]:
            positions.append(position)
            k += 1
    assert k == len(wanted), "tree edges are not input edges listed in input order"
    return positions


def assert_spanning_tree(tree: torch.Tensor, num_vertices: int):
    """``(L-1, 2)`` edges that connect all L vertices without a cycle."""
    assert tree.shape == (num_vertices - 1, 2) and tree.dtype == torch.int64
    leader = list(range(num_vertices))

    def find(v):
        while leader[v] != v:
            v = leader[v]
        return v

    for u, v in tree.tolist():
        a, b = find(u), find(v)
        assert a != b, f"edge ({u}, {v}) closes a cycle"
        leader[a] = b
    assert len({find(v) for v in range(num_vertices)}) == 1


def scipy_total_weight(edges: torch.Tensor, weights: torch.Tensor, num_vertices: int) -> float:
    u, v = edges.double().T.numpy()
    graph = scipy.sparse.csr_matrix((weights.double().numpy(), (u, v)), shape=(num_vertices, num_vertices))
    return scipy.sparse.csgraph.minimum_spanning_tree(graph).sum()


GRAPHS = {
    "grid 1x1": (grid_edges(1, 1), 1),
    "grid 1x17": (grid_edges(1, 17), 17),
    "grid 17x1": (grid_edges(17, 1), 17),
    "grid 7x5": (grid_edges(7, 5), 35),
    "grid 16x16": (grid_edges(16, 16), 256),
    "grid 56x56": (grid_edges(56, 56), 56 * 56),
    "sequence 200 k3": (sequence_edges(200, 3), 200),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("graph", GRAPHS, ids=str)
def test_total_weight_matches_scipy(graph, dtype, rng):
    edges, vertices = GRAPHS[graph]
    batch = 3
    weights = (0.01 + torch.rand(batch, len(edges), generator=rng, dtype=torch.float64)).to(
        dtype
    )  # > 0: SciPy drops 0
    trees = gc.minimum_spanning_tree(edges, weights, vertices)
    assert trees.shape == (batch, vertices - 1, 2) and trees.dtype == torch.int64
    for b in range(batch):
        assert_spanning_tree(trees[b], vertices)
        chosen = edge_indices(trees[b], edges)
        total = weights[b, chosen].double().sum().item()
        assert total == pytest.approx(scipy_total_weight(edges, weights[b], vertices), rel=1e-12)


@pytest.mark.parametrize("graph", GRAPHS, ids=str)
def test_tied_weights_pick_the_lower_edge_index(graph, rng):
    """Three weight levels, negatives included: the tree equals Kruskal with a stable sort."""
    edges, vertices = GRAPHS[graph]
    weights = torch.randint(-1, 2, (4, len(edges)), generator=rng).float()
    trees = gc.minimum_spanning_tree(edges, weights, vertices)
    for b in range(4):
        assert torch.equal(trees[b], edges[kruskal(edges, weights[b], vertices)])


@pytest.mark.parametrize("vertices", [2, 30, 500])
def test_per_graph_edges_of_random_multigraphs(vertices, rng):
    """``(B, E, 2)`` edges, a different shuffled multigraph (parallel edges) per batch element."""
    batch = 4
    edges = torch.stack([random_connected_graph(vertices, 2 * vertices, rng) for _ in range(batch)])
    weights = torch.randint(0, 4, edges.shape[:2], generator=rng).double()
    trees = gc.minimum_spanning_tree(edges, weights, vertices)
    for b in range(batch):
        expected = kruskal(edges[b], weights[b], vertices)
        assert len(expected) == vertices - 1, "test graph must be connected"
        assert torch.equal(trees[b], edges[b][expected])
        assert_spanning_tree(trees[b], vertices)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_self_loops_are_ignored_even_when_lightest(dtype, rng):
    vertices = 40
    graph = random_connected_graph(vertices, 30, rng)
    loops = torch.randint(vertices, (12,), generator=rng).repeat(2, 1).T
    edges = torch.cat([graph, loops])[torch.randperm(len(graph) + 12, generator=rng)]
    weights = torch.rand(3, len(edges), generator=rng, dtype=dtype)
    weights[:, (edges[:, 0] == edges[:, 1])] = -1.0
    trees = gc.minimum_spanning_tree(edges, weights, vertices)
    for b in range(3):
        assert torch.equal(trees[b], edges[kruskal(edges, weights[b], vertices)])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_signed_zeros_are_equal_weights(dtype, rng):
    """-0.0 == +0.0: such edges tie, and the lower edge index wins, whatever the sign."""
    edges = grid_edges(8, 8)
    choice = torch.randint(0, 3, (4, len(edges)), generator=rng)
    weights = torch.tensor([-0.0, 0.0, 1.0], dtype=dtype)[choice]
    trees = gc.minimum_spanning_tree(edges, weights, 64)
    for b in range(4):
        assert torch.equal(trees[b], edges[kruskal(edges, weights[b], 64)])


def test_shared_and_per_graph_edges_agree(rng):
    edges = grid_edges(9, 11)
    weights = torch.rand(5, len(edges), generator=rng)
    shared = gc.minimum_spanning_tree(edges, weights, 99)
    per_graph = gc.minimum_spanning_tree(edges.expand(5, -1, -1).clone(), weights, 99)
    assert torch.equal(shared, per_graph)
    # Each batch element is independent of the others.
    assert torch.equal(gc.minimum_spanning_tree(edges, weights[3:4], 99)[0], shared[3])


def test_edge_orientation_is_kept(rng):
    edges = grid_edges(6, 6).flip(1)[torch.randperm(60, generator=rng)]
    weights = torch.rand(2, 60, generator=rng)
    trees = gc.minimum_spanning_tree(edges, weights, 36)
    for b in range(2):
        assert torch.equal(trees[b], edges[kruskal(edges, weights[b], 36)])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_reduced_precision_weights(dtype, rng):
    edges = grid_edges(12, 12)
    weights = torch.randn(3, len(edges), generator=rng).to(dtype)  # coarse values: many ties
    trees = gc.minimum_spanning_tree(edges, weights, 144)
    for b in range(3):
        assert torch.equal(trees[b], edges[kruskal(edges, weights[b].float(), 144)])
