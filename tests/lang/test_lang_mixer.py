"""The GrootL mixer: exactness against HF Mamba and against the paper's semantics, gradients, dtypes."""

from __future__ import annotations

import copy

import groot_core
import pytest
import torch
from groot_lang import GrootLConfig, GrootLMixer, enable_tree_scan, prompt_lengths
from groot_lang.scan import tree_ssm
from groot_lang.tree import chain_schedule
from grootl_reference import paper_mixer
from lang_models import tiny_model
from transformers.models.mamba.modeling_mamba import mamba_selective_scan


def _ids(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(3, 112, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_scale_zero_is_hf_mamba():
    plain = tiny_model()
    grootl = enable_tree_scan(copy.deepcopy(plain), GrootLConfig(scale=0.0))
    ids = _ids(2, 14)
    with torch.no_grad(), prompt_lengths(grootl, [9, 6]):
        torch.testing.assert_close(grootl(ids).logits, plain(ids).logits, rtol=0, atol=1e-5)


def test_chain_schedule_is_the_cores_bfs_of_the_chain():
    chain = groot_core.sequence_edges(7, 1).expand(3, -1, -1).contiguous()
    expected = groot_core.bfs(chain, 7, root=6)
    got = chain_schedule(3, 7)
    assert torch.equal(got.order, expected.order) and torch.equal(got.parent, expected.parent)


def test_chain_scan_equals_hf_selective_scan():
    torch.manual_seed(0)
    batch, d, n, length = 2, 6, 3, 11
    u, dt = torch.randn(batch, d, length), torch.rand(batch, d, length) + 0.1
    a, b, c = -torch.rand(d, n) * 2, torch.randn(batch, length, n), torch.randn(batch, length, n)
    y, last = tree_ssm(u, dt, a, b, c, tree=None, scale=0.0)
    expected, expected_last = mamba_selective_scan(
        u, dt, a, b.transpose(1, 2), c.transpose(1, 2), return_last_state=True, use_associative_scan=False
    )
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last, expected_last, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("lengths", "settings"),
    [
        ([9, 9], {}),
        ([7, 11], {}),  # the paper: shortest prompt (7) for both
        ([7, 11], {"per_sequence_span": True}),
        ([16, 16], {"scale": 0.7, "k": 2}),
        ([2, 5], {}),  # shortest prompt ≤ 2: the tree is the chain
        ([10, 6], {"causal": True, "per_sequence_span": True}),
    ],
)
def test_mixer_matches_paper_semantics(lengths, settings):
    model = tiny_model(dtype=torch.float64)
    config = GrootLConfig(**settings)
    enable_tree_scan(model, config)
    mixer = model.backbone.layers[0].mixer
    hidden = torch.randn(2, 16, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad(), prompt_lengths(model, lengths):
        got = mixer(hidden)
    expected = paper_mixer(
        mixer,
        hidden,
        lengths,
        scale=config.scale,
        k=config.k,
        per_sequence=config.per_sequence_span,
        causal=config.causal,
    )
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


def test_tree_branch_changes_the_output():
    """Guards the semantics test: the tree differs measurably from (1 + s)·chain here."""
    model = enable_tree_scan(tiny_model(dtype=torch.float64))
    mixer = model.backbone.layers[0].mixer
    hidden = torch.randn(1, 16, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        with prompt_lengths(model, [16]):
            tree = mixer(hidden)
        with prompt_lengths(model, [2]):
            chain = mixer(hidden)
    assert (tree - chain).abs().max() > 1e-2


def test_gradients_reach_every_parameter():
    model = enable_tree_scan(tiny_model()).train()
    ids = _ids(2, 12)
    with prompt_lengths(model, [8, 8]):
        model(ids, labels=ids).loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_gradient_checkpointing_gives_the_same_gradients():
    ids = _ids(2, 12)
    grads = []
    for checkpointing in (False, True):
        model = enable_tree_scan(tiny_model()).train()
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        calls = []
        for layer in model.backbone.layers:
            layer.mixer.register_forward_pre_hook(lambda *_, calls=calls: calls.append(1))
        with prompt_lengths(model, [9, 9]):
            model(ids, labels=ids).loss.backward()
        assert len(calls) == (2 if checkpointing else 1) * len(model.backbone.layers)
        grads.append({name: p.grad for name, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_models_run_close_to_float32(dtype):
    ids = _ids(2, 12)
    reference = enable_tree_scan(tiny_model())
    half = enable_tree_scan(tiny_model(dtype=dtype))
    with torch.no_grad():
        expected = reference(ids).logits
        got = half(ids).logits
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert (got - expected).abs().mean() < 0.1 * expected.abs().mean()


def test_bf16_autocast_backward():
    model = enable_tree_scan(tiny_model()).train()
    ids = _ids(2, 12)
    with torch.autocast("cpu", dtype=torch.bfloat16), prompt_lengths(model, [7, 7]):
        loss = model(ids, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_mixers_change_class_only_in_this_model():
    plain, grootl = tiny_model(), enable_tree_scan(tiny_model())
    assert all(type(layer.mixer) is GrootLMixer for layer in grootl.backbone.layers)
    assert not any(isinstance(layer.mixer, GrootLMixer) for layer in plain.backbone.layers)
    assert grootl.state_dict().keys() == plain.state_dict().keys()
