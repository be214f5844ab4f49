"""Which tokens each output may depend on: the causal option and the paper's prompt span."""

from __future__ import annotations

import torch
from groot_lang import GrootLConfig, enable_tree_scan, prompt_lengths
from lang_models import tiny_model

LENGTH, PROMPT = 16, 10


def _logits(model, ids: torch.Tensor, prompt: int) -> torch.Tensor:
    with torch.no_grad(), prompt_lengths(model, [prompt] * ids.shape[0]):
        return model(ids).logits


def _changed_before(model, position: int, prompt: int = PROMPT) -> torch.Tensor:
    """Per earlier position, whether its logits move when token ``position`` is replaced."""
    ids = torch.randint(3, 112, (1, LENGTH), generator=torch.Generator().manual_seed(position))
    perturbed = ids.clone()
    perturbed[0, position] = 3 + (int(ids[0, position]) - 3 + 50) % 109
    before = _logits(model, ids, prompt)[0, :position]
    after = _logits(model, perturbed, prompt)[0, :position]
    return (after - before).abs().amax(dim=-1) > 1e-6


def test_causal_option_is_strictly_causal():
    for span in ("prompt", "sequence"):
        model = enable_tree_scan(tiny_model(), GrootLConfig(causal=True, span=span))
        for position in range(1, LENGTH):
            assert not _changed_before(model, position).any(), (span, position)


def test_response_tokens_never_reach_earlier_outputs():
    model = enable_tree_scan(tiny_model())
    for position in range(PROMPT, LENGTH):
        assert not _changed_before(model, position).any(), position


def test_paper_rule_is_not_causal_inside_the_prompt():
    """The check above can see leaks: later prompt tokens do reach earlier prompt outputs."""
    model = enable_tree_scan(tiny_model())
    leaks = [bool(_changed_before(model, position).any()) for position in range(1, PROMPT)]
    assert any(leaks)
