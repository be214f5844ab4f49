"""GraphedInference: eager where graphs do not apply, replayed graphs equal to eager on the GPU; a
GrootV backbone's training step captured by PyTorch's own training graphs."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from groot_vision import fusion, side_tree
from groot_vision.cuda_graphs import GraphedInference, _ModuleState
from groot_vision.dense import GrootVFeatures
from torch import nn

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")


class Counting(nn.Module):
    """A small net that counts its Python calls (a replayed graph makes none)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        y = self.conv(x)
        return {"features": y, "pooled": [y.mean((2, 3))]}


def test_cpu_inputs_run_eagerly() -> None:
    net = Counting().eval()
    graphed = GraphedInference(net).eval()
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        for _ in range(3):
            out = graphed(x)
            torch.testing.assert_close(out["features"], net.conv(x))
    assert net.calls == 3 and graphed.graphs == 0
    assert not graphed.replays(x)


def test_module_state_sees_moved_tensors_and_replaced_submodules() -> None:
    """What decides whether captured graphs still hold: equal while the module's tensors stay where
    they are, different after any move or replacement."""
    net = nn.Sequential(Counting(), nn.GELU())
    state = _ModuleState()
    before = state.read(net)
    net[0].conv.weight.data.mul_(2)  # in place: graphs read it as it is
    assert state.read(net) == before

    def changed() -> bool:
        nonlocal before
        now = state.read(net)
        different, before = now != before, now
        return different

    net[0].conv.weight = nn.Parameter(torch.randn_like(net[0].conv.weight))
    assert changed()
    net.double()  # moves every parameter by `.data =`
    assert changed()
    net[1] = nn.ReLU()  # no tensors, other code
    assert changed()
    net[0].conv = nn.Conv2d(3, 8, 3, padding=1)
    assert changed()
    net[0].conv.bias.data = torch.zeros(8)
    assert changed()  # the replacement's tensors are read, not the old conv's
    net[1].register_buffer("scale", torch.ones(1))  # a module that held none
    assert changed()
    assert not changed()


def test_max_graphs_is_checked() -> None:
    with pytest.raises(ValueError, match="max_graphs"):
        GraphedInference(nn.Identity(), max_graphs=0)


@pytest.mark.cuda
@cuda
def test_replays_match_eager_and_copy_their_outputs() -> None:
    torch.manual_seed(0)
    net = Counting().cuda().eval()
    graphed = GraphedInference(net)
    inputs = [torch.randn(2, 3, 16, 16, device="cuda") for _ in range(4)]
    with torch.no_grad():
        outputs = [graphed(x) for x in inputs]
        assert graphed.graphs == 1
        calls = net.calls
        again = [graphed(x) for x in inputs]
        assert net.calls == calls  # replayed, not run
        for x, first, second in zip(inputs, outputs, again, strict=True):
            want = net.conv(x)
            torch.testing.assert_close(first["features"], want)
            torch.testing.assert_close(second["features"], want)  # earlier outputs not overwritten
            torch.testing.assert_close(second["pooled"][0], want.mean((2, 3)))


@pytest.mark.cuda
@cuda
def test_shapes_training_and_gradients_bypass_or_key_graphs() -> None:
    net = Counting().cuda().eval()
    graphed = GraphedInference(net, max_graphs=2)
    with torch.no_grad():
        for size in (8, 12, 16):
            for _ in range(2):
                graphed(torch.randn(1, 3, size, size, device="cuda"))
        assert graphed.graphs == 2  # the oldest shape was dropped
    x = torch.randn(1, 3, 16, 16, device="cuda", requires_grad=True)
    graphed(x)["features"].sum().backward()  # gradients enabled: eager, differentiable
    assert x.grad is not None
    graphed.train()
    with torch.no_grad():
        calls = net.calls
        graphed(torch.randn(1, 3, 16, 16, device="cuda"))
    assert net.calls == calls + 1


@pytest.mark.cuda
@cuda
def test_inference_mode_and_no_grad_keep_separate_graphs() -> None:
    net = Counting().cuda().eval()
    graphed = GraphedInference(net)
    x = torch.randn(1, 3, 8, 8, device="cuda")
    with torch.inference_mode():
        graphed(x), graphed(x)
    with torch.no_grad():
        graphed(x)
        torch.testing.assert_close(graphed(x)["features"], net.conv(x))
    with torch.inference_mode():
        torch.testing.assert_close(graphed(x)["features"], net.conv(x))
    assert graphed.graphs == 2


@pytest.mark.cuda
@cuda
def test_new_parameter_memory_or_submodules_drop_graphs() -> None:
    net = Counting().cuda().eval()
    graphed = GraphedInference(net)
    x = torch.randn(1, 3, 8, 8, device="cuda")
    with torch.no_grad():
        graphed(x), graphed(x)
        assert graphed.graphs == 1
        net.conv.weight = nn.Parameter(torch.randn_like(net.conv.weight))
        torch.testing.assert_close(graphed(x)["features"], net.conv(x))
        assert graphed.graphs == 0
        net.conv.weight.copy_(torch.randn_like(net.conv.weight))  # in place: graphs read it
        graphed(x)
        torch.testing.assert_close(graphed(x)["features"], net.conv(x))
        assert graphed.graphs == 1
        net.conv = nn.Conv2d(3, 8, 1).cuda()  # other code: a new graph
        torch.testing.assert_close(graphed(x)["features"], net.conv(x))
        assert graphed.graphs == 0


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("compiled_in_capture", [False, True], ids=["eager-steps", "compiled-steps"])
def test_grootv_backbone_replays_its_eager_forward(
    autocast: bool, compiled_in_capture: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tree build and scan are captured too: a graphed GrootV backbone equals its eager run
    exactly when the capture keeps the eager steps. With the compiled steps captures use, it
    matches in norm: in float32 the replay's rounding differs (even from an eager run of the same
    compiled steps), and a different rounding may switch which of two near-equal edges the MST
    takes, which moves a few outputs."""
    if not compiled_in_capture:
        monkeypatch.setattr(fusion, "capturing_graph", contextlib.nullcontext)
    torch.manual_seed(0)
    backbone = GrootVFeatures("grootv_micro").cuda().eval()
    graphed = GraphedInference(backbone)
    images = [torch.randn(1, 3, 96, 128, device="cuda") for _ in range(3)]
    with torch.no_grad(), torch.autocast("cuda", enabled=autocast):
        want = [backbone(x) for x in images]
        got = [graphed(x) for x in images]
        got = [graphed(x) for x in images]
    assert graphed.graphs == 1
    for g, w in zip(got, want, strict=True):
        assert list(g) == list(w)
        for name in w:
            if compiled_in_capture:
                assert (g[name].float() - w[name].float()).norm() <= 1e-2 * w[name].float().norm()
            else:
                torch.testing.assert_close(g[name], w[name])


@pytest.mark.cuda
@cuda
def test_captured_inference_builds_each_tree_on_the_side_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a capture, and its warm-up, each layer issues its tree on the side stream, beside its
    discretisation, and the replay still gives the eager forward's maps; eager inference and
    forwards with autograd keep to the current stream."""
    streams = []
    build = side_tree.grid_tree

    def recording_grid_tree(guide: torch.Tensor, metric: str):
        streams.append(torch.cuda.current_stream())
        return build(guide, metric)

    monkeypatch.setattr(side_tree, "grid_tree", recording_grid_tree)
    torch.manual_seed(0)
    backbone = GrootVFeatures("grootv_micro").cuda().eval()
    graphed = GraphedInference(backbone)
    x = torch.randn(1, 3, 96, 128, device="cuda")
    with fusion.capturing_graph():
        assert not fusion.overlaps_tree(None, x)  # with autograd: one compiled region, one stream
        with torch.no_grad():
            assert fusion.overlaps_tree(None, x)
    with torch.no_grad(), torch.autocast("cuda"):
        want = backbone(x)
        graphed(x)  # seen once: eager
        assert not streams
        graphed(x)  # captured
        got = graphed(x)  # replayed
    blocks = sum(len(stage.blocks) for stage in backbone.body.levels)
    assert len(streams) == 3 * blocks  # two warm-up forwards and the capture
    assert all(s == side_tree.side_stream(x.device) for s in streams)
    for name in want:
        assert (got[name].float() - want[name].float()).norm() <= 1e-2 * want[name].float().norm()


@pytest.mark.cuda
@cuda
def test_tree_on_the_side_stream_is_the_tree_on_the_current_one() -> None:
    """The same BFS, bit for bit, and the current stream sees it only after the join."""
    torch.manual_seed(0)
    guide = torch.randn(2, 16, 37, 53, device="cuda")
    want = side_tree.grid_tree(guide, "cosine")
    aside = side_tree.TreeOnSideStream(guide, "cosine")
    order, parent = aside.join()
    torch.testing.assert_close(order, want.order, rtol=0, atol=0)
    torch.testing.assert_close(parent, want.parent, rtol=0, atol=0)


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("autocast", [False, True])
def test_grootv_backbone_trains_from_make_graphed_callables(autocast: bool) -> None:
    """``torch.cuda.make_graphed_callables`` captures a GrootV backbone's training forward and
    backward, the tree build, the scan and its compiled steps included: each replayed step gives
    the eager step's outputs and parameter gradients on new inputs, and eval mode runs eagerly."""
    torch.manual_seed(0)
    graphed = GrootVFeatures("grootv_micro").cuda().train()
    eager = copy.deepcopy(graphed)
    images = [torch.randn(2, 3, 96, 128, device="cuda") for _ in range(3)]
    tolerance = {"rtol": 2e-3, "atol": 2e-3} if autocast else {"rtol": 1e-4, "atol": 1e-5}
    # Autocast's weight cache must stay out of a capture.
    with torch.autocast("cuda", enabled=autocast, cache_enabled=False):
        torch.cuda.make_graphed_callables(graphed, (torch.randn_like(images[0]),))
    for x in images:
        results = []
        for net in (graphed, eager):
            net.zero_grad(set_to_none=True)
            with torch.autocast("cuda", enabled=autocast):
                out = net(x)
                loss = sum(f.float().square().mean() for f in out.values())
            loss.backward()
            grads = {name: p.grad.clone() for name, p in net.named_parameters() if p.grad is not None}
            results.append(({name: f.detach().clone() for name, f in out.items()}, grads))
        (got, got_grads), (want, want_grads) = results
        assert list(got) == list(want) and list(got_grads) == list(want_grads)
        assert len(want_grads) == sum(1 for p in eager.parameters() if p.requires_grad)
        for name in want:
            torch.testing.assert_close(got[name], want[name], **tolerance)
        for name in want_grads:
            torch.testing.assert_close(got_grads[name], want_grads[name], **tolerance)
    graphed.eval(), eager.eval()
    with torch.no_grad():
        x = torch.randn(1, 3, 64, 64, device="cuda")  # another shape: only eager can take it
        for name, f in eager(x).items():
            torch.testing.assert_close(graphed(x)[name], f)
