"""The operators under PyTorch's machinery: opcheck (schema, fake tensors, autograd registration,
AOT dispatch) and torch.compile(fullgraph=True) of a tree build plus scan."""

from __future__ import annotations

import groot_core as gc
import pytest
import torch

MODES = ["all", "root"]


OPERATORS = [
    "grid_edges",
    "sequence_edges",
    "edge_weights",
    "minimum_spanning_tree",
    "bfs",
    "tree_scan",
    "tree_scan_backward",
]


def opcheck_cases(name: str, generator: torch.Generator) -> list[tuple[tuple, dict]]:
    """(args, kwargs) of each call of ``torch.ops.groot.<name>`` to check."""
    features = torch.randn(2, 3, 30, generator=generator, dtype=torch.float64)
    edges = gc.grid_edges(5, 6)
    weights = gc.edge_weights(features, edges)
    tree = gc.minimum_spanning_tree(edges, weights, 30)
    order, parent = gc.bfs(tree, 30, 4)
    x = torch.randn(2, 4, 30, generator=generator, dtype=torch.float64)
    decay = torch.rand(2, 4, 30, generator=generator, dtype=torch.float64)
    grad_y = torch.randn(2, 4, 30, generator=generator, dtype=torch.float64)
    # Token-major memory, as a model hands it over: outputs keep that layout.
    x_cl, decay_cl = (t.transpose(1, 2).contiguous().transpose(1, 2) for t in (x, decay))
    cpu = {"device": torch.device("cpu")}
    return {
        "grid_edges": [((5, 6), {}), ((0, 6), cpu)],
        "sequence_edges": [((40, 3), {}), ((2, 3), cpu)],
        "edge_weights": [
            ((features, edges, "cosine"), {}),
            ((features.float(), edges.expand(2, -1, -1), "l1"), {}),
        ],
        "minimum_spanning_tree": [
            ((edges, weights, 30), {}),
            ((edges.expand(2, -1, -1), weights.float(), 30), {}),
        ],
        "bfs": [((tree, 30, 4), {})],
        "tree_scan": [((x, decay, order, parent, mode), {}) for mode in MODES]
        + [
            ((x.clone().requires_grad_(), decay.clone().requires_grad_(), order, parent, mode), {})
            for mode in MODES
        ]
        + [((x_cl.detach().requires_grad_(), decay_cl.detach().requires_grad_(), order, parent, "all"), {})],
        "tree_scan_backward": [((grad_y, x, decay, order, parent, mode), {}) for mode in MODES]
        + [((grad_y, x_cl, decay_cl, order, parent, "root"), {})],
    }[name]


@pytest.mark.parametrize("name", OPERATORS)
def test_opcheck(name, rng):
    for args, kwargs in opcheck_cases(name, rng):
        torch.library.opcheck(getattr(torch.ops.groot, name), args, kwargs)


def tree_block(guide: torch.Tensor, x: torch.Tensor, decay: torch.Tensor, mode: str) -> torch.Tensor:
    tree = gc.grid_tree(guide, "l2", root=guide.shape[-1] - 1)
    return gc.tree_scan(x, decay, tree, mode)


def run_block(block, mode, generator):
    guide = torch.randn(2, 4, 6, 7, generator=generator)
    x = torch.randn(2, 5, 42, generator=generator, requires_grad=True)
    decay = torch.rand(2, 5, 42, generator=generator, requires_grad=True)
    y = block(guide, x, decay, mode)
    return (y, *torch.autograd.grad(y.square().sum(), (x, decay)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_compile_fullgraph_matches_eager(backend, mode):
    torch._dynamo.reset()
    compiled = torch.compile(tree_block, fullgraph=True, backend=backend)
    results = run_block(compiled, mode, torch.Generator().manual_seed(1))
    expected = run_block(tree_block, mode, torch.Generator().manual_seed(1))
    for got, want in zip(results, expected, strict=True):
        assert torch.equal(got, want)


def test_compile_with_inductor():
    """One inductor case (it compiles C++: about 12 s on 2 cores with a cold cache)."""
    torch._dynamo.reset()
    compiled = torch.compile(tree_block, fullgraph=True, backend="inductor")
    results = run_block(compiled, "all", torch.Generator().manual_seed(2))
    expected = run_block(tree_block, "all", torch.Generator().manual_seed(2))
    for got, want in zip(results, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_dynamic_shapes_compile_once_for_every_grid_size():
    """Sizes, vertex counts and roots reach the ops as SymInts: compiled with dynamic shapes, a
    tree build + scan serves every grid size with one graph (int arguments would bake each size
    into the graph and recompile)."""
    graphs = []

    def counting_backend(graph: torch.fx.GraphModule, example_inputs):
        graphs.append(graph)
        return graph.forward

    torch._dynamo.reset()
    compiled = torch.compile(tree_block, fullgraph=True, dynamic=True, backend=counting_backend)
    generator = torch.Generator().manual_seed(3)
    for height, width in ((6, 7), (9, 5), (11, 13)):
        guide = torch.randn(2, 4, height, width, generator=generator)
        x = torch.randn(2, 5, height * width, generator=generator)
        decay = torch.rand(2, 5, height * width, generator=generator)
        torch.testing.assert_close(compiled(guide, x, decay, "all"), tree_block(guide, x, decay, "all"))
    torch._dynamo.reset()
    assert len(graphs) == 1
