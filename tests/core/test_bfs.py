"""groot_core.bfs: a valid breadth-first schedule, the level sets of networkx, deterministic."""

from __future__ import annotations

import groot_core as gc
import networkx as nx
import pytest
import torch
from brute_force import bfs as reference_bfs
from brute_force import depths, grid_edges, kruskal
from random_trees import SHAPES, random_parents, tree_edges


def random_tree_batch(batch: int, vertices: int, shape: str, generator) -> torch.Tensor:
    return torch.stack(
        [tree_edges(random_parents(vertices, generator, shape), generator) for _ in range(batch)]
    )


def assert_valid_bfs(order: torch.Tensor, parent: torch.Tensor, tree: torch.Tensor, root: int):
    vertices = len(order)
    assert sorted(order.tolist()) == list(range(vertices)), "order is not a permutation"
    assert order[0] == root and parent[root] == -1
    position = torch.empty_like(order)
    position[order] = torch.arange(vertices)
    children = order[1:]
    assert (position[parent[children]] < position[children]).all(), "a parent comes after its child"
    depth = depths(parent)
    assert (depth[order].diff() >= 0).all(), "depths decrease along the order"
    links = {frozenset(pair) for pair in torch.stack([children, parent[children]], 1).tolist()}
    assert links == {frozenset(pair) for pair in tree.tolist()}, "parent links are not the tree's edges"


def networkx_levels(tree: torch.Tensor, vertices: int, root: int) -> list[set[int]]:
    graph = nx.Graph()
    graph.add_nodes_from(range(vertices))
    graph.add_edges_from(tree.tolist())
    return [set(layer) for layer in nx.bfs_layers(graph, root)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("vertices", [1, 2, 9, 257, 3000])
def test_random_trees(vertices, shape, rng):
    batch = 3
    trees = random_tree_batch(batch, vertices, shape, rng)
    root = int(torch.randint(vertices, (1,), generator=rng))
    result = gc.bfs(trees, vertices, root)
    assert isinstance(result, gc.BFS)
    assert result.order.shape == result.parent.shape == (batch, vertices)
    assert result.order.dtype == result.parent.dtype == torch.int64
    for b in range(batch):
        order, parent = result.order[b], result.parent[b]
        assert_valid_bfs(order, parent, trees[b], root)
        levels = [set() for _ in range(int(depths(parent).max()) + 1)]
        for v, d in enumerate(depths(parent).tolist()):
            levels[d].add(v)
        assert levels == networkx_levels(trees[b], vertices, root)
        # Neighbours are visited in tree-edge order: the schedule is fully determined.
        assert (order.tolist(), parent.tolist()) == reference_bfs(trees[b], vertices, root)


@pytest.mark.parametrize("grid", [(7, 5), (56, 56)], ids=lambda g: f"{g[0]}x{g[1]}")
def test_grid_spanning_trees_from_every_corner(grid, rng):
    height, width = grid
    vertices = height * width
    edges = grid_edges(height, width)
    trees = torch.stack(
        [edges[kruskal(edges, torch.rand(len(edges), generator=rng), vertices)] for _ in range(2)]
    )
    for root in (0, width - 1, vertices - width, vertices - 1):
        result = gc.bfs(trees, vertices, root)
        for b in range(2):
            assert_valid_bfs(result.order[b], result.parent[b], trees[b], root)
            assert (result.order[b].tolist(), result.parent[b].tolist()) == reference_bfs(
                trees[b], vertices, root
            )


def test_is_deterministic(rng):
    trees = random_tree_batch(4, 500, "random", rng)
    first = gc.bfs(trees, 500, 17)
    for _ in range(3):
        again = gc.bfs(trees, 500, 17)
        assert torch.equal(again.order, first.order) and torch.equal(again.parent, first.parent)
