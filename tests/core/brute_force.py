"""Independent references for groot_core, written from the definitions only (no groot code).

The tree scan: the edge (v, parent v) lies on the path i–j exactly when it lies on the root path of
one of i, j but not of the other, so S(i, j) is the product of ``decay[v]`` over the symmetric
difference of the two root paths — every pair (i, j), in float64, differentiable by autograd.
"""

from __future__ import annotations

import numpy as np
import torch


def grid_edges(height: int, width: int) -> torch.Tensor:
    """``(E, 2)`` edges of the 4-connected grid in the documented order: every vertical pair
    (r, c)-(r+1, c) row-major, then every horizontal pair (r, c)-(r, c+1) row-major."""
    vertical = [(r * width + c, (r + 1) * width + c) for r in range(height - 1) for c in range(width)]
    horizontal = [(r * width + c, r * width + c + 1) for r in range(height) for c in range(width - 1)]
    return torch.tensor(vertical + horizontal, dtype=torch.int64).reshape(-1, 2)


def sequence_edges(length: int, window: int) -> torch.Tensor:
    """``(E, 2)`` pairs (t-j, t), grouped by offset j = 1..window, each group in increasing t."""
    pairs = [(t - j, t) for j in range(1, window + 1) for t in range(j, length)]
    return torch.tensor(pairs, dtype=torch.int64).reshape(-1, 2)


def bfs(tree: torch.Tensor, num_vertices: int, root: int) -> tuple[list[int], list[int]]:
    """BFS ``(order, parent)`` of the ``(L-1, 2)`` tree from ``root``, visiting each vertex's
    neighbours in tree-edge order (the documented schedule); parent is -1 at the root."""
    neighbours: list[list[int]] = [[] for _ in range(num_vertices)]
    for u, v in tree.tolist():
        neighbours[u].append(v)
        neighbours[v].append(u)
    parent = [-2] * num_vertices
    parent[root] = -1
    order = [root]
    for u in order:  # the list grows while we walk it: a FIFO queue
        for v in neighbours[u]:
            if parent[v] == -2:
                parent[v] = u
                order.append(v)
    assert len(order) == num_vertices, "not a spanning tree"
    return order, parent


def parents_from_edges(tree: torch.Tensor, num_vertices: int, root: int) -> torch.Tensor:
    """``(L,)`` parents of the ``(L-1, 2)`` tree rooted at ``root`` (-1 at the root)."""
    return torch.tensor(bfs(tree, num_vertices, root)[1], dtype=torch.int64)


def depths(parent: torch.Tensor) -> torch.Tensor:
    """``(L,)`` number of edges between each vertex and the root of a parent array."""
    parent_list = parent.tolist()
    depth = [-1] * len(parent_list)
    for start in range(len(parent_list)):
        chain = []
        v = start
        while v >= 0 and depth[v] < 0:
            chain.append(v)
            v = parent_list[v]
            assert len(chain) <= len(parent_list), "parent array has a cycle"
        known = -1 if v < 0 else depth[v]
        for u in reversed(chain):
            known += 1
            depth[u] = known
    return torch.tensor(depth, dtype=torch.int64)


def ancestors_or_self(parent: torch.Tensor) -> torch.Tensor:
    """``(L, L)`` bool, ``A[j, v]``: v is j or an ancestor of j."""
    parent_np = parent.numpy()
    count = parent_np.shape[0]
    member = np.zeros((count, count), dtype=bool)
    for v in np.argsort(depths(parent).numpy(), kind="stable"):  # parents first
        if parent_np[v] >= 0:
            member[v] = member[parent_np[v]]
        member[v, v] = True
    return torch.from_numpy(member)


def path_products(decay: torch.Tensor, root_path: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """``(D, len(rows), L)`` S(i, j) = Π decay[v] over the edges (v, parent v) on the path i–j.

    ``root_path[j, v]``: the edge (v, parent v) is on j's path to the root. The edge is on the path
    i–j iff it is on exactly one root path, so for any per-edge f the path sum is
    Σ_v P_iv f_v + Σ_v P_jv f_v − 2 Σ_v P_iv P_jv f_v — matrix products. The product of decays is
    the path sum of log|decay|, with the sign from the number of negative factors and 0 if any
    factor is 0.
    """
    paths = root_path.to(decay.dtype)
    mine = paths[rows]

    def along_paths(f: torch.Tensor) -> torch.Tensor:
        shared = (mine[None] * f[:, None, :]) @ paths.T  # (D, rows, L)
        return (mine @ f.T).T[:, :, None] + (paths @ f.T).T[:, None, :] - 2 * shared

    per_edge = torch.cat([torch.log(decay.abs().clamp_min(1e-300)), decay < 0, decay == 0])
    log_magnitude, negatives, zeros = along_paths(per_edge).chunk(3)
    magnitude, negatives, zeros = torch.exp(log_magnitude), negatives.round(), zeros.round()
    return torch.where(zeros > 0, 0.0, magnitude * (1 - 2 * (negatives % 2)))


def tree_scan(
    x: torch.Tensor,
    decay: torch.Tensor,
    parent: torch.Tensor,
    mode: str = "all",
    rows: list[int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The scan ``y_i = Σ_j S(i, j) x_j`` by enumerating all pairs, in float64.

    Args:
        x, decay: ``(B, D, L)``.
        parent: ``(B, L)`` parent arrays (-1 at the root).
        mode: ``"all"``, or ``"root"`` (only j in the subtree of i).
        rows: the vertices i to compute (default all).

    Returns:
        ``y`` and the magnitude ``Σ_j |S(i, j) x_j|`` (the scale of its rounding error), both
        ``(B, D, len(rows))``.
    """
    batch, _, vertices = x.shape
    rows = list(range(vertices)) if rows is None else rows
    x, decay = x.double(), decay.double()
    outputs, magnitudes = [], []
    for b in range(batch):
        ancestry = ancestors_or_self(parent[b])
        root_path = ancestry.clone()  # the root has no edge to its parent
        root_path[:, int((parent[b] < 0).nonzero())] = False
        s = path_products(decay[b], root_path, rows)
        if mode == "root":
            s = s * ancestry[:, rows].T  # j in subtree(i): i is j or an ancestor of j
        terms = s * x[b][:, None, :]
        outputs.append(terms.sum(-1))
        magnitudes.append(terms.detach().abs().sum(-1))
    return torch.stack(outputs), torch.stack(magnitudes)


def kruskal(edges: torch.Tensor, weights: torch.Tensor, num_vertices: int) -> list[int]:
    """Indices (ascending) of the minimum spanning tree's edges; ties go to the lower index."""
    weight_list = weights.tolist()
    order = sorted(range(len(weight_list)), key=lambda e: (weight_list[e], e))
    leader = list(range(num_vertices))

    def find(v: int) -> int:
        while leader[v] != v:
            leader[v] = leader[leader[v]]
            v = leader[v]
        return v

    chosen = []
    pairs = edges.tolist()
    for e in order:
        a, b = find(pairs[e][0]), find(pairs[e][1])
        if a != b:
            leader[a] = b
            chosen.append(e)
    return sorted(chosen)


def assert_scan_close(result: torch.Tensor, expected: torch.Tensor, magnitude: torch.Tensor, rtol: float):
    """Every element within ``rtol`` of the scale of its own terms."""
    assert result.shape == expected.shape
    assert torch.isfinite(result).all()
    error = (result.double() - expected).abs() / magnitude.clamp_min(1e-300)
    assert error.max().item() <= rtol, f"relative error {error.max().item():.3g} > {rtol}"
