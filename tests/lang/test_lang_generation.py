"""Generation: tree at prefill, recurrent steps after, consistent with full forward passes."""

from __future__ import annotations

import copy

import torch
from groot_lang import GrootLConfig, enable_tree_scan, prompt_lengths
from lang_models import tiny_model

PROMPT, NEW = 9, 6


def _prompt(batch: int = 2) -> torch.Tensor:
    return torch.randint(3, 112, (batch, PROMPT), generator=torch.Generator().manual_seed(5))


def _generate(model, ids: torch.Tensor):
    return model.generate(
        ids,
        max_new_tokens=NEW,
        min_new_tokens=NEW,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
    )


def test_generate_matches_step_by_step_decoding():
    model = enable_tree_scan(tiny_model())
    ids = _prompt()
    generated = _generate(model, ids)
    with torch.no_grad():
        out = model(ids, use_cache=True)
        tokens, logits = [], []
        for _ in range(NEW):
            step_logits = out.logits[:, -1]
            logits.append(step_logits)
            tokens.append(step_logits.argmax(-1, keepdim=True))
            out = model(tokens[-1], cache=out.cache, use_cache=True)
    assert torch.equal(generated.sequences[:, PROMPT:], torch.cat(tokens, dim=1))
    for got, expected in zip(generated.logits, logits, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_decoding_continues_the_prompt_tree_exactly():
    """A full pass over prompt + generated tokens, with the prompt as the span, gives the same logits."""
    for settings in ({}, {"causal": True}, {"scale": 0.6, "k": 2}):
        model = enable_tree_scan(tiny_model(), GrootLConfig(**settings))
        generated = _generate(model, _prompt())
        with torch.no_grad(), prompt_lengths(model, [PROMPT, PROMPT]):
            full = model(generated.sequences[:, :-1]).logits
        for step, step_logits in enumerate(generated.logits):
            torch.testing.assert_close(step_logits, full[:, PROMPT - 1 + step], rtol=1e-4, atol=1e-4)


def test_generate_with_scale_zero_is_hf_generate():
    plain = tiny_model()
    grootl = enable_tree_scan(copy.deepcopy(plain), GrootLConfig(scale=0.0))
    ids = _prompt()
    expected, got = _generate(plain, ids), _generate(grootl, ids)
    assert torch.equal(got.sequences, expected.sequences)
    for a, b in zip(got.logits, expected.logits, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_left_padded_batch_generates_what_each_prompt_generates_alone():
    model = enable_tree_scan(tiny_model())
    prompts = [_prompt(1)[0], _prompt(1)[0, 3:]]
    ids = torch.zeros(2, PROMPT, dtype=torch.int64)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, PROMPT - len(prompt) :] = prompt
        mask[row, PROMPT - len(prompt) :] = 1
    batched = model.generate(
        ids,
        attention_mask=mask,
        max_new_tokens=NEW,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
    )
    for row, prompt in enumerate(prompts):
        alone = _generate(model, prompt[None])
        assert torch.equal(batched.sequences[row, PROMPT:], alone.sequences[0, len(prompt) :])
        for got, expected in zip(batched.logits, alone.logits, strict=True):
            torch.testing.assert_close(got[row], expected[0], rtol=1e-4, atol=1e-4)
