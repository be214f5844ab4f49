"""Settings travel with save_pretrained / load_model; enable and disable are reversible."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from groot_lang import (
    GrootLConfig,
    GrootLMixer,
    disable_tree_scan,
    enable_tree_scan,
    load_model,
    prompt_lengths,
    tree_scan_config,
)
from lang_models import tiny_model
from transformers import MambaForCausalLM

SETTINGS = GrootLConfig(scale=0.5, k=2, span="prompt", per_sequence_span=True, causal=True)


def _logits(model, ids):
    with torch.no_grad(), prompt_lengths(model, [8, 5]):
        return model(ids).logits


def test_save_load_round_trip(tmp_path):
    model = enable_tree_scan(tiny_model(), SETTINGS)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["grootl"] == SETTINGS.to_dict()

    loaded = load_model(tmp_path)
    assert tree_scan_config(loaded) == SETTINGS
    ids = torch.randint(3, 112, (2, 12), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(_logits(loaded, ids), _logits(model, ids), rtol=0, atol=0)


def test_plain_checkpoint_loads_plain(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    assert tree_scan_config(load_model(tmp_path)) is None


def test_disable_restores_hf_mamba(tmp_path):
    plain = tiny_model()
    model = disable_tree_scan(enable_tree_scan(copy.deepcopy(plain)))
    assert tree_scan_config(model) is None and not hasattr(model.config, "grootl")
    assert not any(isinstance(m, GrootLMixer) for m in model.modules())
    ids = torch.randint(3, 112, (2, 12), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(_logits(model, ids), _logits(plain, ids), rtol=0, atol=0)
    model.save_pretrained(tmp_path)
    assert "grootl" not in json.loads((tmp_path / "config.json").read_text())


def test_config_rejects_unknown_and_invalid_settings():
    with pytest.raises(ValueError, match="unknown"):
        GrootLConfig.from_dict({"scale": 0.3, "window": 3})
    with pytest.raises(ValueError):
        GrootLConfig(metric="l2")
    with pytest.raises(ValueError):
        GrootLConfig(span="response")


def test_enable_needs_a_mamba():
    with pytest.raises(ValueError, match="MambaMixer"):
        enable_tree_scan(torch.nn.Linear(2, 2))


def test_prompt_lengths_must_match_the_batch():
    model = enable_tree_scan(tiny_model())
    with pytest.raises(ValueError, match="batch"), prompt_lengths(model, [4, 4, 4]):
        model(torch.zeros(2, 6, dtype=torch.int64))


def test_from_pretrained_ignores_the_settings(tmp_path):
    """Plain transformers loading keeps the stored settings but not the tree (documented)."""
    enable_tree_scan(tiny_model(), SETTINGS).save_pretrained(tmp_path)
    model = MambaForCausalLM.from_pretrained(tmp_path)
    assert tree_scan_config(model) is None and model.config.grootl == SETTINGS.to_dict()
