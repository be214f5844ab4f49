"""TreeSSM against an independent float64 re-derivation of the paper's mixer.

The reference builds the grid graph and its minimum spanning tree with networkx, forms the dense matrix
S[d, i, j] = product of decays along the tree path i..j, and applies the readout, with no code shared
with groot_vision or groot_core.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from groot_vision import TreeSSM
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode


def _distance(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    if metric == "cosine":
        return 1.0 - float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))
    if metric == "l1":
        return float(np.abs(a - b).sum())
    return float(((a - b) ** 2).sum())


def _mst_parents(guide: np.ndarray, metric: str) -> list[int]:
    """Parent of every vertex in the MST of the 4-connected grid of guide (C, H, W), rooted at 0."""
    _, h, w = guide.shape
    graph = nx.Graph()
    for r in range(h):
        for c in range(w):
            for rr, cc in ((r + 1, c), (r, c + 1)):
                if rr < h and cc < w:
                    graph.add_edge(
                        r * w + c, rr * w + cc, weight=_distance(guide[:, r, c], guide[:, rr, cc], metric)
                    )
    tree = nx.minimum_spanning_tree(graph, algorithm="kruskal")
    parent = [-1] * (h * w)
    for child, par in nx.bfs_predecessors(tree, 0):
        parent[child] = par
    return parent


def _path_products(parent: list[int], decay: np.ndarray) -> np.ndarray:
    """S[d, i, j]: product over the edges (v, parent v) on the path i..j of decay[d, v]."""
    n = len(parent)

    def up_path(v: int) -> list[int]:
        path = [v]
        while parent[path[-1]] != -1:
            path.append(parent[path[-1]])
        return path

    paths = [up_path(v) for v in range(n)]
    s = np.ones((decay.shape[0], n, n))
    for i in range(n):
        for j in range(n):
            common = set(paths[i]) & set(paths[j])
            lca = next(v for v in paths[i] if v in common)
            for v in paths[i][: paths[i].index(lca)] + paths[j][: paths[j].index(lca)]:
                s[:, i, j] *= decay[:, v]
    return s


def _scan_matrix(scan: str, guide: np.ndarray, decay: np.ndarray, metric: str) -> np.ndarray:
    _, h, w = guide.shape
    if scan == "tree":
        return _path_products(_mst_parents(guide, metric), decay)
    row_chain = _path_products([v - 1 for v in range(h * w)], decay)
    if scan == "raster":  # h_t = decay_t * h_{t-1} + x_t: only earlier tokens, in row-major order
        return np.tril(row_chain)
    column_order = [r * w + c for c in range(w) for r in range(h)]
    column_parent = [-1] * (h * w)
    for prev, v in itertools.pairwise(column_order):
        column_parent[v] = prev
    return row_chain + _path_products(column_parent, decay)


def _reference_mixer(layer: TreeSSM, x: torch.Tensor, scan: str, metric: str) -> np.ndarray:
    p = {k: v.detach().double() for k, v in layer.state_dict().items()}
    x = x.double()
    batch, h, w, _ = x.shape
    inner = p["Ds"].shape[0]
    u, z = (x @ p["in_proj.weight"].T).chunk(2, dim=-1)
    u = F.silu(F.conv2d(u.permute(0, 3, 1, 2), p["conv2d.weight"], padding=1, groups=inner))
    tokens = u.flatten(2).numpy()  # (B, D, L)
    rank = p["dt_projs_weight"].shape[-1]
    x_dbl = np.einsum("cd,bdl->bcl", p["x_proj_weight"][0].numpy(), tokens)
    dt = np.einsum("dr,brl->bdl", p["dt_projs_weight"][0].numpy(), x_dbl[:, :rank])
    b_in, c_out = x_dbl[:, rank], x_dbl[:, rank + 1]  # (B, L) each
    delta = np.logaddexp(0.0, dt + p["dt_projs_bias"].numpy().reshape(1, -1, 1))
    decay = np.exp(-delta * np.exp(p["A_logs"].numpy()))
    out = []
    for bi in range(batch):
        s = _scan_matrix(scan, u[bi].numpy(), decay[bi], metric)
        hidden = np.einsum("dij,dj->id", s, delta[bi] * b_in[bi] * tokens[bi])  # (L, D)
        hidden = F.layer_norm(
            torch.from_numpy(hidden), (inner,), p["h_norm.weight"], p["h_norm.bias"]
        ).numpy()
        y = hidden * c_out[bi][:, None] + p["Ds"].numpy() * tokens[bi].T
        y = F.layer_norm(torch.from_numpy(y), (inner,), p["out_norm.weight"], p["out_norm.bias"])
        y = y.reshape(h, w, inner) * F.silu(z[bi])
        out.append((y @ p["out_proj.weight"].T).numpy())
    return np.stack(out)


def _randomised_layer(scan: str, metric: str, seed: int) -> TreeSSM:
    torch.manual_seed(seed)
    layer = TreeSSM(8, scan=scan, metric=metric)
    with torch.no_grad():
        for name, param in layer.named_parameters():
            if name == "dt_projs_bias":
                param.uniform_(-1.5, 0.5)  # decays spread over (0.2, 0.95), far from the trivial 0 or 1
            elif name == "A_logs":
                param.uniform_(-0.5, 0.5)
            else:
                param.normal_(0.0, 0.5)
    return layer


@pytest.mark.parametrize(
    ("scan", "metric"),
    [("tree", "cosine"), ("tree", "l1"), ("tree", "l2"), ("raster", "cosine"), ("cross", "cosine")],
)
@pytest.mark.parametrize(("height", "width"), [(3, 5), (4, 4)])
def test_mixer_matches_float64_reference(scan: str, metric: str, height: int, width: int) -> None:
    layer = _randomised_layer(scan, metric, seed=height * 10 + width)
    x = torch.randn(2, height, width, 8, generator=torch.Generator().manual_seed(7))
    got, _ = layer(x)
    want = _reference_mixer(layer, x, scan, metric)
    err = np.abs(got.detach().double().numpy() - want).max() / np.abs(want).max()
    assert err < 1e-4, f"relative error {err:.2e}"


class _WrappedLinear(nn.Module):
    """Stands for an adapter around the input projection: not a plain ``nn.Linear``."""

    def __init__(self, inner: nn.Linear) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def test_wrapped_input_projection_runs_whole_and_agrees() -> None:
    layer = _randomised_layer("tree", "cosine", seed=5)
    x = torch.randn(2, 4, 5, 8, generator=torch.Generator().manual_seed(11))
    want = _reference_mixer(layer, x, "tree", "cosine")
    split, _ = layer(x)
    layer.in_proj = _WrappedLinear(layer.in_proj)
    calls = []
    layer.in_proj.register_forward_hook(lambda *_: calls.append(1))
    whole, _ = layer(x)
    assert calls == [1]
    for got in (split, whole):
        err = np.abs(got.detach().double().numpy() - want).max() / np.abs(want).max()
        assert err < 1e-4, f"relative error {err:.2e}"


class _CastCounter(TorchDispatchMode):
    """Counts the dtype casts that reach the kernels (autocast's included)."""

    def __init__(self) -> None:
        super().__init__()
        self.casts = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.casts += func is torch.ops.aten._to_copy.default
        return func(*args, **(kwargs or {}))


def test_input_projection_under_autocast_casts_once() -> None:
    layer = _randomised_layer("tree", "cosine", seed=6)
    x = torch.randn(2, 4, 5, 8, generator=torch.Generator().manual_seed(12))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with _CastCounter() as counter:
            u, project_gate = layer._project_in(x)
            gate = project_gate()
        want = layer.in_proj(x)
    assert counter.casts == 2  # the input and the weight, once each
    assert u.dtype == gate.dtype == want.dtype == torch.bfloat16
    assert u.is_contiguous() and gate.is_contiguous()
    torch.testing.assert_close(torch.cat([u, gate], dim=-1), want)


def test_scans_differ() -> None:
    x = torch.randn(1, 4, 5, 8, generator=torch.Generator().manual_seed(3))
    outs = {scan: _randomised_layer(scan, "cosine", seed=0)(x)[0] for scan in ("tree", "raster", "cross")}
    assert not torch.allclose(outs["tree"], outs["raster"], atol=1e-3)
    assert not torch.allclose(outs["tree"], outs["cross"], atol=1e-3)
    assert not torch.allclose(outs["raster"], outs["cross"], atol=1e-3)


def test_given_tree_is_used_and_returned() -> None:
    layer = _randomised_layer("tree", "cosine", seed=1)
    x, other = torch.randn(2, 2, 3, 4, 8, generator=torch.Generator().manual_seed(5))
    _, own_tree = layer(x)
    _, other_tree = layer(other)
    reused, returned = layer(x, other_tree)
    assert returned is other_tree
    assert not torch.equal(own_tree.parent, other_tree.parent), "pick inputs whose trees differ"
    assert not torch.allclose(reused, layer(x)[0])


def test_initialisation_follows_mamba() -> None:
    torch.manual_seed(0)
    layer = TreeSSM(64)
    dt = F.softplus(layer.dt_projs_bias)
    assert dt.min() >= 1e-4 - 1e-7 and dt.max() <= 0.1 + 1e-6
    assert torch.equal(layer.A_logs, torch.zeros(128, 1))  # A = -1 with one state
    assert torch.equal(layer.Ds, torch.ones(128))
    assert layer.dt_rank == 4 and layer.x_proj_weight.shape == (1, 4 + 2, 128)


@pytest.mark.parametrize("d_conv", [0, 2, 4])
def test_even_or_empty_convolution_is_refused(d_conv: int) -> None:
    # An even kernel with padding (k - 1) // 2 would shrink the grid that the tree is built on.
    with pytest.raises(ValueError, match="d_conv must be a positive odd kernel size"):
        TreeSSM(8, d_conv=d_conv)
