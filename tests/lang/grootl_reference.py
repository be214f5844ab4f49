"""An independent float64 re-derivation of the paper's GrootL mixer (shared/reference semantics).

Written from the definitions with plain loops, no code shared with groot_lang, groot_core or
transformers: the conv, projections and discretisation of Mamba; the graph (prompt tokens linked to
t-1..t-k, later tokens to t-1); edge weight exp(-cos) over all D·N channels of x = Δ·B·u; Kruskal's
minimum spanning tree; root = last token; one leaves→root pass where child c enters its parent with
the decay of token c+1; h = chain + s·tree; y = out_proj((C·h + D·u) ⊙ silu(z)).
"""

from __future__ import annotations

import math

import torch


def _kruskal(num_vertices: int, weighted_edges: list[tuple[float, int, int]]) -> list[tuple[int, int]]:
    root = list(range(num_vertices))

    def find(v: int) -> int:
        while root[v] != v:
            v = root[v]
        return v

    chosen = []
    for _, a, b in sorted(weighted_edges):
        ra, rb = find(a), find(b)
        if ra != rb:
            root[ra] = rb
            chosen.append((a, b))
    return chosen


def _children_from_last(num_vertices: int, tree_edges: list[tuple[int, int]]) -> list[list[int]]:
    neighbours: list[list[int]] = [[] for _ in range(num_vertices)]
    for a, b in tree_edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    children: list[list[int]] = [[] for _ in range(num_vertices)]
    seen = {num_vertices - 1}
    stack = [num_vertices - 1]
    while stack:
        v = stack.pop()
        for w in neighbours[v]:
            if w not in seen:
                seen.add(w)
                children[v].append(w)
                stack.append(w)
    return children


def token_tree_children(x: torch.Tensor, span: int, k: int) -> list[list[int]]:
    """Children lists of the paper's tree over tokens, x ``(L, C)`` the folded scan inputs."""
    length = x.shape[0]
    edges = []
    for t in range(1, length):
        for j in range(1, (k if t < span else 1) + 1):
            if t - j >= 0:
                a, b = x[t - j], x[t]
                cos = float(a @ b) / (float(a.norm()) * float(b.norm()))
                edges.append((math.exp(-cos), t - j, t))
    return _children_from_last(length, _kruskal(length, edges))


def paper_mixer(
    mixer,
    hidden: torch.Tensor,
    prompt_lengths: list[int],
    scale: float = 0.3,
    k: int = 3,
    per_sequence: bool = False,
    causal: bool = False,
) -> torch.Tensor:
    """Output ``(B, L, H)`` float64 of a HF ``MambaMixer``'s weights under the paper's rules.

    ``per_sequence=False`` uses the shortest prompt for the whole batch (the paper); ``causal``
    makes positions before the span's last token read the chain instead of the tree.
    """
    p = {name: value.detach().double() for name, value in mixer.named_parameters()}
    h = hidden.double()
    batch, length, _ = h.shape
    d_inner, n_state = p["A_log"].shape
    rank = p["dt_proj.weight"].shape[1]
    kernel = p["conv1d.weight"].shape[-1]

    xz = h @ p["in_proj.weight"].T
    u_in, z = xz[..., :d_inner], xz[..., d_inner:]
    u = torch.zeros_like(u_in)
    for t in range(length):
        acc = p["conv1d.bias"].clone()
        for j in range(kernel):
            s = t - (kernel - 1) + j
            if s >= 0:
                acc = acc + p["conv1d.weight"][:, 0, j] * u_in[:, s]
        u[:, t] = acc
    u = u * torch.sigmoid(u)
    proj = u @ p["x_proj.weight"].T
    dt = torch.nn.functional.softplus(proj[..., :rank] @ p["dt_proj.weight"].T + p["dt_proj.bias"])
    b_mat, c_mat = proj[..., rank : rank + n_state], proj[..., rank + n_state :]
    a = -torch.exp(p["A_log"])
    decay = torch.exp(dt[..., None] * a)  # (B, L, D, N)
    x = dt[..., None] * b_mat[:, :, None, :] * u[..., None]

    spans = [min(max(n, 0), length) for n in prompt_lengths]
    if not per_sequence:
        spans = [min(spans)] * batch
    out = torch.zeros(batch, length, h.shape[-1], dtype=torch.float64)
    for i in range(batch):
        chain = torch.zeros(length, d_inner, n_state, dtype=torch.float64)
        state = torch.zeros(d_inner, n_state, dtype=torch.float64)
        for t in range(length):
            state = decay[i, t] * state + x[i, t]
            chain[t] = state
        children = token_tree_children(x[i].reshape(length, -1), spans[i], k)
        tree = torch.zeros_like(chain)
        for v in _post_order(children, length - 1):
            tree[v] = x[i, v] + sum(
                (decay[i, c + 1] * tree[c] for c in children[v]), torch.zeros_like(tree[v])
            )
        if causal:
            tree[: max(spans[i] - 1, 0)] = chain[: max(spans[i] - 1, 0)]
        total = chain + scale * tree
        y = (total * c_mat[i][:, None, :]).sum(-1) + p["D"] * u[i]
        y = y * z[i] * torch.sigmoid(z[i])
        out[i] = y @ p["out_proj.weight"].T
    return out


def _post_order(children: list[list[int]], root: int) -> list[int]:
    order, stack = [], [root]
    while stack:
        v = stack.pop()
        order.append(v)
        stack.extend(children[v])
    return order[::-1]
