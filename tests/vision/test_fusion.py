"""groot_vision.fusion.FusedLayerNorm: nn.LayerNorm's results, compiled or not, with autocast's cast fused."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
import torch
from groot_vision import fusion
from groot_vision.fusion import FusedLayerNorm
from groot_vision.tree_ssm import TreeSSM


@pytest.fixture(params=[False, True], ids=["eager", "compiled"])
def fuse(request, compiled_on_cpu: None) -> bool:
    """Runs a test eagerly, then compiled (aot_eager stands in for Triton on the CPU)."""
    return request.param


def _norms(fuse: bool, feeds_autocast: bool) -> tuple[torch.nn.LayerNorm, FusedLayerNorm]:
    torch.manual_seed(0)
    reference = torch.nn.LayerNorm(24, eps=1e-6)
    torch.nn.init.normal_(reference.weight)
    torch.nn.init.normal_(reference.bias)
    norm = FusedLayerNorm(24, eps=1e-6, fuse=fuse, feeds_autocast=feeds_autocast)
    norm.load_state_dict(reference.state_dict())
    return reference, norm


@pytest.mark.parametrize("feeds_autocast", [False, True])
def test_matches_layer_norm_without_autocast(fuse: bool, feeds_autocast: bool) -> None:
    reference, norm = _norms(fuse, feeds_autocast)
    # Non-contiguous input, as the stem hands its norm a permuted conv output.
    x = torch.randn(2, 24, 5, 7).permute(0, 2, 3, 1).requires_grad_()
    grad = torch.randn(2, 5, 7, 24)
    want = reference(x)
    (want_x,) = torch.autograd.grad(want, x, grad)
    got = norm(x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want)
    got.backward(grad)
    torch.testing.assert_close(x.grad, want_x)
    torch.testing.assert_close(norm.weight.grad, torch.autograd.grad(reference(x), reference.weight, grad)[0])


def test_feeding_autocast_returns_what_the_next_linear_layer_would_use(fuse: bool) -> None:
    reference, norm = _norms(fuse, feeds_autocast=True)
    linear = torch.nn.Linear(24, 8)
    x = torch.randn(3, 6, 24, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = reference(x)
        got = norm(x)
        assert want.dtype == torch.float32 and got.dtype == torch.bfloat16
        torch.testing.assert_close(got, want.to(torch.bfloat16), rtol=0, atol=0)
        out_want, out_got = linear(want), linear(got)
    torch.testing.assert_close(out_got, out_want, rtol=0, atol=0)
    (grad_want,) = torch.autograd.grad(out_want.float().square().sum(), x)
    (grad_got,) = torch.autograd.grad(out_got.float().square().sum(), x)
    torch.testing.assert_close(grad_got, grad_want)


def test_output_dtype_is_eager_when_not_feeding_autocast(fuse: bool) -> None:
    _, norm = _norms(fuse, feeds_autocast=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert norm(torch.randn(2, 24)).dtype == torch.float32


@pytest.mark.parametrize("feeds_autocast", [False, True])
def test_add_and_norm_is_the_sum_and_its_layer_norm(fuse: bool, feeds_autocast: bool) -> None:
    """As in a GrootV block under autocast: a float32 stream plus a bfloat16 branch."""
    reference, norm = _norms(fuse, feeds_autocast)
    x = torch.randn(2, 5, 7, 24, requires_grad=True)
    branch = torch.randn(2, 5, 7, 24).to(torch.bfloat16).requires_grad_()
    grads = torch.randn(2, 5, 7, 24), torch.randn(2, 5, 7, 24)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total_want = x + branch
        normed_want = reference(total_want)
        total, normed = norm.add_and_norm(x, branch)
    assert total.dtype == torch.float32
    assert normed.dtype == (torch.bfloat16 if feeds_autocast else torch.float32)
    torch.testing.assert_close(total, total_want, rtol=0, atol=0)
    # The reference takes the same cast, so that both round the incoming gradient alike.
    normed_want = normed_want.to(normed.dtype)
    torch.testing.assert_close(normed, normed_want)
    inputs = (x, branch, reference.weight, reference.bias)
    want = torch.autograd.grad((total_want, normed_want.float()), inputs, grads)
    got = torch.autograd.grad((total, normed.float()), (x, branch, norm.weight, norm.bias), grads)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize("feeds_autocast", [False, True])
def test_norm_of_a_sum_is_the_norm_of_the_sum(fuse: bool, feeds_autocast: bool) -> None:
    """``norm(x, branch)``, for a sum that no one reads (a GrootV stage's last norm)."""
    reference, norm = _norms(fuse, feeds_autocast)
    x = torch.randn(2, 5, 7, 24, requires_grad=True)
    branch = torch.randn(2, 5, 7, 24).to(torch.bfloat16).requires_grad_()
    grad = torch.randn(2, 5, 7, 24)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        normed_want = reference(x + branch)
        normed = norm(x, branch)
        assert norm.add_and_norm(x, None)[0] is x
    normed_want = normed_want.to(normed.dtype)
    torch.testing.assert_close(normed, normed_want)
    inputs = (x, branch, reference.weight, reference.bias)
    want = torch.autograd.grad(normed_want.float(), inputs, grad)
    got = torch.autograd.grad(normed.float(), (x, branch, norm.weight, norm.bias), grad)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


def test_state_dict_is_layer_norms() -> None:
    assert FusedLayerNorm(8).state_dict().keys() == torch.nn.LayerNorm(8).state_dict().keys()


def test_small_inputs_stay_eager_unless_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled_steps = []
    monkeypatch.setattr(fusion, "compiled", lambda step, channels: compiled_steps.append(step) or step)
    # As on a GPU with Triton: fuse=None means "fuse" to fuses().
    monkeypatch.setattr(fusion, "fuses", lambda setting, x: True if setting is None else setting)
    monkeypatch.setattr(fusion, "MIN_FUSED_NORM_NUMEL", 1000)
    FusedLayerNorm(99)(torch.randn(10, 99))  # 990 elements
    assert not compiled_steps
    FusedLayerNorm(99, fuse=True)(torch.randn(10, 99))
    assert len(compiled_steps) == 1
    FusedLayerNorm(99)(torch.randn(11, 99))
    assert len(compiled_steps) == 2
    FusedLayerNorm(99, fuse=False)(torch.randn(11, 99))
    assert len(compiled_steps) == 2


def test_scan_steps_in_inference_fuse_only_large_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on a GPU with Triton: fuse=None means "fuse" to fuses().
    monkeypatch.setattr(fusion, "fuses", lambda setting, x: True if setting is None else setting)
    monkeypatch.setattr(fusion, "MIN_FUSED_INFERENCE_NUMEL", 1000)
    small, large = torch.randn(10, 99), torch.randn(11, 99)
    assert fusion.fuses_scan(None, small) and fusion.fuses_scan(None, large)  # training
    with torch.no_grad():
        assert not fusion.fuses_scan(None, small)
        assert fusion.fuses_scan(None, large)
        assert fusion.fuses_scan(True, small)
        assert not fusion.fuses_scan(False, large)


def test_graph_captures_fuse_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled_steps = []
    monkeypatch.setattr(fusion, "compiled", lambda step, channels: compiled_steps.append(step) or step)
    monkeypatch.setattr(fusion, "fuses", lambda setting, x: True if setting is None else setting)
    monkeypatch.setattr(fusion, "MIN_FUSED_NORM_NUMEL", 1000)
    monkeypatch.setattr(fusion, "MIN_FUSED_INFERENCE_NUMEL", 1000)
    small = torch.randn(10, 99)
    with torch.no_grad():
        with fusion.capturing_graph():
            FusedLayerNorm(99)(small)
            assert fusion.fuses_scan(None, small)
            assert not fusion.fuses_scan(False, small)  # a forced setting still wins
            FusedLayerNorm(99, fuse=False)(small)
        assert len(compiled_steps) == 1
        # Only inside the context.
        FusedLayerNorm(99)(small)
        assert len(compiled_steps) == 1
        assert not fusion.fuses_scan(None, small)


def _recording_compiler(monkeypatch: pytest.MonkeyPatch) -> list[list]:
    """Compiles the steps as on the GPU (a copy of a step for each width, symbolic shapes), with
    aot_eager for Triton; returns the input sizes of every graph compiled, a list per graph."""
    graphs = []

    def backend(graph: torch.fx.GraphModule, example_inputs: list) -> Callable:
        values = [node.meta["example_value"] for node in graph.graph.nodes if node.op == "placeholder"]
        graphs.append([tuple(v.shape) for v in values if isinstance(v, torch.Tensor)])
        return torch._dynamo.lookup_backend("aot_eager")(graph, example_inputs)

    def compile_step(step: Callable, channels: int) -> Callable:
        return torch.compile(fusion.width_copy(step, channels), dynamic=True, backend=backend)

    monkeypatch.setattr(fusion, "compiled", functools.cache(compile_step))
    torch._dynamo.reset()
    return graphs


def _static(size: int | torch.SymInt) -> bool:
    """Whether a traced size is a constant (an int, or a symbol the trace pinned to one)."""
    return not isinstance(size, torch.SymInt) or size.node.maybe_as_int() is not None


def _assert_channels_only_static(graphs: list[list], widths: set[int]) -> None:
    """Every graph's first input (rows, ..., channels) has constant channels and symbolic rows."""
    assert {int(inputs[0][-1]) for inputs in graphs} == widths
    for inputs in graphs:
        assert _static(inputs[0][-1]) and not any(_static(size) for size in inputs[0][:-1]), inputs


def test_compiled_norms_specialise_on_the_channel_count_only(monkeypatch: pytest.MonkeyPatch) -> None:
    graphs = _recording_compiler(monkeypatch)

    def check(rows: int, channels: int) -> None:
        x = torch.randn(2, rows, channels)
        torch.testing.assert_close(FusedLayerNorm(channels, fuse=True)(x), torch.nn.LayerNorm(channels)(x))

    for rows, channels in ((6, 24), (6, 40)):
        check(rows, channels)
    compiled = len(graphs)
    for rows, channels in ((9, 24), (13, 40), (11, 24)):
        check(rows, channels)
    assert len(graphs) == compiled  # new row counts reuse a width's code
    _assert_channels_only_static(graphs, {24, 40})


def test_widths_beyond_the_recompile_limit_still_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.compile runs a function eagerly past its recompile limit; a copy for each width keeps
    all of a model's norms compiled (one GrootV-T forward under autocast asks for nine versions)."""
    graphs = _recording_compiler(monkeypatch)
    widths = set(range(8, 24))
    # Dynamo's default limit: importing timm.optim raises it to a million for the whole process.
    with torch._dynamo.config.patch(recompile_limit=8):
        for channels in sorted(widths):
            FusedLayerNorm(channels, fuse=True)(torch.randn(3, channels))
    _assert_channels_only_static(graphs, widths)


def test_compiled_scan_steps_specialise_on_the_channel_count_only(monkeypatch: pytest.MonkeyPatch) -> None:
    graphs = _recording_compiler(monkeypatch)
    torch.manual_seed(0)
    mixers = [TreeSSM(width, fuse_elementwise=True) for width in (8, 16)]
    # Batch sizes 4 and 5 equal no other size or stride of these layers: a coincidence would give
    # torch.compile an equality to guard on, and a recompilation of its own.
    with torch.no_grad():
        for mixer in mixers:
            mixer(torch.randn(4, 5, 7, mixer.Ds.shape[0] // 2))
        compiled = len(graphs)
        for mixer in mixers:
            mixer(torch.randn(5, 6, 4, mixer.Ds.shape[0] // 2))
    assert len(graphs) == compiled
    _assert_channels_only_static(graphs, {16, 32})  # u is (B, L, D), D = 2 * width


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")
@pytest.mark.parametrize("autocast", [False, True])
def test_triton_kernels_match_layer_norm(autocast: bool) -> None:
    """On the GPU with fuse=None, a large input goes through the kernels torch.compile makes."""
    torch.manual_seed(0)
    reference = torch.nn.LayerNorm(80, eps=1e-6).cuda()
    torch.nn.init.normal_(reference.weight)
    norm = FusedLayerNorm(80, eps=1e-6, feeds_autocast=True).cuda()
    norm.load_state_dict(reference.state_dict())
    x = torch.randn(2, 256, 256, 80, device="cuda", requires_grad=True)
    assert x.numel() >= fusion.MIN_FUSED_NORM_NUMEL
    grad = torch.randn(2, 256, 256, 80, device="cuda")
    outputs = {}
    for name, module in (("eager", reference), ("fused", norm)):
        with torch.autocast("cuda", enabled=autocast):
            y = module(x)
        y.float().backward(grad)
        outputs[name] = (y.float(), x.grad.clone(), module.weight.grad, module.bias.grad)
        x.grad = None
    # Sums over 131 072 rows in another order: compared as whole tensors, not element by element.
    # Under autocast the outputs are half precision (one rounding step: ~5e-4 relative).
    tolerance = 1e-3 if autocast else 1e-5
    for got, want in zip(outputs["fused"], outputs["eager"], strict=True):
        assert (got - want).norm() <= tolerance * want.norm()
