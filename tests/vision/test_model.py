"""GrootV models: forward/backward at any size, features_only, and the scan/scope/memory/precision options."""

from __future__ import annotations

import types

import groot_core
import groot_vision  # noqa: F401  (registers the models)
import pytest
import timm
import torch
from groot_vision import fusion


def _micro(**kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model("grootv_micro", **kwargs)


@pytest.mark.parametrize("name", ["grootv_tiny", "grootv_small", "grootv_base"])
def test_forward_backward_every_size_at_odd_resolution(name: str) -> None:
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=7)
    images = torch.randn(1, 3, 33, 47, requires_grad=True)
    logits = model(images)
    assert logits.shape == (1, 7) and torch.isfinite(logits).all()
    logits.square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing[:5]
    assert images.grad.abs().sum() > 0


@pytest.mark.parametrize(("height", "width"), [(64, 64), (65, 47), (31, 90)])
def test_features_only_returns_four_strided_maps(height: int, width: int) -> None:
    model = _micro(features_only=True)
    maps = model(torch.randn(2, 3, height, width))
    assert model.feature_info.reduction() == [4, 8, 16, 32]
    assert model.feature_info.channels() == [32, 64, 128, 256]
    # Each 3x3 stride-2 conv (padding 1) maps n to ceil(n / 2).
    expected = [
        (2, c, -(-height // r), -(-width // r))
        for c, r in zip([32, 64, 128, 256], [4, 8, 16, 32], strict=True)
    ]
    assert [tuple(m.shape) for m in maps] == expected


def test_forward_on_the_meta_device_gives_shapes() -> None:
    # Shape tracing and FLOP counting run models on "meta" tensors, where autocast does not exist.
    logits = _micro(num_classes=7).to("meta")(torch.empty(2, 3, 65, 47, device="meta"))
    assert logits.shape == (2, 7) and logits.device.type == "meta"
    maps = _micro(features_only=True).to("meta")(torch.empty(1, 3, 64, 64, device="meta"))
    assert [tuple(m.shape) for m in maps] == [(1, 32, 16, 16), (1, 64, 8, 8), (1, 128, 4, 4), (1, 256, 2, 2)]


def test_features_only_subset_prunes_unused_layers() -> None:
    model = _micro(features_only=True, out_indices=(0, 2))
    maps = model(torch.randn(1, 3, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(1, 32, 16, 16), (1, 128, 4, 4)]
    names = [n for n, _ in model.named_parameters()]
    assert not any(
        n.startswith(("model.levels.3", "model.levels.2.downsample", "model.conv_head", "model.head"))
        for n in names
    )


def test_tiny_features_only_on_backbone_sizes() -> None:
    model = timm.create_model("grootv_tiny", features_only=True, out_indices=(1, 2, 3))
    maps = model(torch.randn(1, 3, 40, 72))
    assert [tuple(m.shape) for m in maps] == [(1, 160, 5, 9), (1, 320, 3, 5), (1, 640, 2, 3)]


def test_intermediates_agree_with_classifier_path() -> None:
    model = _micro(num_classes=3).eval()
    x = torch.randn(2, 3, 48, 40)
    final, intermediates = model.forward_intermediates(x, output_fmt="NHWC")
    assert torch.equal(final, intermediates[-1])
    assert torch.allclose(model.forward_head(final), model(x))
    assert torch.allclose(model.forward_features(x), final)


@pytest.mark.parametrize("scan", ["tree", "raster", "cross"])
@pytest.mark.parametrize("metric", ["cosine", "l1", "l2"])
def test_scan_and_metric_variants_train(scan: str, metric: str) -> None:
    model = _micro(scan=scan, metric=metric)
    logits = model(torch.randn(2, 3, 40, 36))
    logits.logsumexp(-1).sum().backward()
    assert torch.isfinite(model.levels[0].blocks[0].TreeSSM.A_logs.grad).all()


def test_tree_scope_stage_builds_one_tree_per_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = groot_core.grid_tree

    def counting_grid_tree(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(groot_core, "grid_tree", counting_grid_tree)
    x = torch.randn(1, 3, 32, 32)
    outputs = {}
    for scope in ("block", "stage"):
        calls.clear()
        torch.manual_seed(0)
        model = timm.create_model("grootv_micro", depths=(2, 2, 2, 2), tree_scope=scope).eval()
        outputs[scope] = model(x)
        assert len(calls) == (8 if scope == "block" else 4)
    assert not torch.allclose(outputs["block"], outputs["stage"])


@pytest.mark.parametrize("fused", [False, True], ids=["eager", "compiled"])
def test_stages_leave_each_residual_add_to_the_next_norm_with_the_same_result(
    fused: bool, request: pytest.FixtureRequest
) -> None:
    """A stage hands each block's last branch on unsummed, to be added by the next norm; its
    output is still the blocks' own forwards one after another, each the pre-norm formula."""
    if fused:
        request.getfixturevalue("compiled_on_cpu")
    stage = _micro(fuse_elementwise=fused).eval().levels[1]
    x = torch.randn(2, 9, 11, 64)
    with torch.no_grad():
        features, downsampled = stage(x)
        want = x
        for block in stage.blocks:
            mixed, _ = block.TreeSSM(block.norm1(want))
            summed = want + mixed
            want_block = summed + block.mlp(block.norm2(summed))
            got_block, _ = block(want)
            torch.testing.assert_close(got_block, want_block)
            want = want_block
        want = stage.norm(want)
    torch.testing.assert_close(features, want)
    torch.testing.assert_close(downsampled, stage.downsample(want))


def _gradients(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    model(x).logsumexp(-1).sum().backward()
    return {n: p.grad for n, p in model.named_parameters()}


@pytest.mark.parametrize("variant", ["block_checkpointing", "no_elementwise_recompute", "fused_elementwise"])
def test_memory_and_speed_options_do_not_change_gradients(
    variant: str, request: pytest.FixtureRequest
) -> None:
    x = torch.randn(2, 3, 40, 40)
    reference = _gradients(_micro(), x)
    if variant == "block_checkpointing":
        model = _micro()
        model.set_grad_checkpointing(True)
    elif variant == "fused_elementwise":
        # The CPU stands in for CUDA here (the Triton kernels are checked on the GPU).
        request.getfixturevalue("compiled_on_cpu")
        model = _micro(fuse_elementwise=True)
    else:
        model = _micro(recompute_elementwise=False)
    got = _gradients(model, x)
    for name, grad in reference.items():
        torch.testing.assert_close(got[name], grad, msg=name)


@pytest.mark.parametrize("force_fp32_scan", [True, False])
def test_autocast_keeps_scan_in_float32_when_asked(
    force_fp32_scan: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    dtypes = []
    original = groot_core.tree_scan

    def recording_tree_scan(x, decay, tree, mode="all"):
        dtypes.append((x.dtype, decay.dtype))
        return original(x, decay, tree, mode=mode)

    monkeypatch.setattr(groot_core, "tree_scan", recording_tree_scan)
    model = _micro(force_fp32_scan=force_fp32_scan)
    x = torch.randn(2, 3, 32, 32)
    reference = model(x)
    dtypes.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model(x)
    want = torch.float32 if force_fp32_scan else torch.bfloat16
    assert dtypes and all(d == (want, want) for d in dtypes)
    assert torch.isfinite(mixed).all()
    assert torch.nn.functional.cosine_similarity(mixed.float().flatten(), reference.flatten(), dim=0) > 0.98


def test_torch_compile_matches_eager() -> None:
    model = _micro().eval()
    x = torch.randn(2, 3, 32, 32)
    compiled = torch.compile(model, backend="aot_eager")
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)


def test_whole_model_compile_takes_over_the_fused_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a compile of the whole model the layer neither compiles its own steps again nor looks
    up Triton (on the GPU that lookup broke the graph, and Inductor then failed on the pieces) nor
    reads the graph-capture flag (a ContextVar, which torch 2.11's Dynamo cannot trace); the
    gradients are eager's."""

    def not_under_compile(*args):
        raise AssertionError("called inside torch.compile")

    x = torch.randn(2, 3, 40, 40)
    reference = _gradients(_micro(), x)
    monkeypatch.setattr(fusion, "compiled", not_under_compile)
    monkeypatch.setattr(fusion, "has_triton", not_under_compile)
    monkeypatch.setattr(fusion, "_capturing", types.SimpleNamespace(get=not_under_compile))
    model = _micro(fuse_elementwise=True)
    got = _gradients(torch.compile(model, fullgraph=True, backend="aot_eager"), x)
    for name, grad in reference.items():
        torch.testing.assert_close(got["_orig_mod." + name], grad, msg=name)


def test_reset_classifier_and_pre_logits() -> None:
    model = _micro(num_classes=5).eval()
    x = torch.randn(1, 3, 32, 32)
    pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    assert pooled.shape == (1, model.head_hidden_size) == (1, 384)
    model.reset_classifier(11)
    assert model(x).shape == (1, 11)
    model.reset_classifier(0)
    assert model(x).shape == (1, 384)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")
def test_fused_elementwise_kernels_match_eager_on_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Triton kernels torch.compile makes of the elementwise steps and norms give eager's
    gradients. TF32 is off: its rounding would turn the kernels' last-bit differences into 1e-3."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    x = torch.randn(2, 3, 40, 40, device="cuda")
    reference = _gradients(_micro(fuse_elementwise=False).cuda(), x)
    got = _gradients(_micro(fuse_elementwise=True).cuda(), x)
    # Reductions in another order, through every layer: each gradient is compared as a whole,
    # against the largest one for gradients that are zero but for rounding (the batch norm of
    # the head removes any shift of the last stage's features: its norm's bias gets ~1e-8).
    scale = max(grad.norm() for grad in reference.values())
    errors = {
        name: ((got[name] - grad).norm() / max(grad.norm(), 1e-4 * scale)).item()
        for name, grad in reference.items()
    }
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-4, f"{worst}: relative error {errors[worst]:.1e}"
