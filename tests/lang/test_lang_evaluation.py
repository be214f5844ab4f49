"""lm-evaluation-harness: the ``grootl`` model scores requests with the context as prompt span."""

from __future__ import annotations

import json
import math

import pytest
import torch
from groot_lang import GrootLConfig, enable_tree_scan, load_model, prompt_lengths, tree_scan_config
from groot_lang.evaluation import GrootLM
from lm_eval import simple_evaluate
from lm_eval.api.instance import Instance
from lm_eval.tasks import TaskManager

QUESTIONS = [
    {"question": "what is the water like", "choices": ["long", "he was there"], "label": 0},
    {"question": "how many people can you see", "choices": ["two", "some of them"], "label": 1},
]


def _manual_loglikelihood(model, tokenizer, context: str, continuation: str) -> float:
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    continuation_ids = whole[len(context_ids) :]
    with torch.no_grad(), prompt_lengths(model, [len(context_ids)]):
        logits = model(torch.tensor([whole[:-1]])).logits[0].log_softmax(-1)
    positions = range(len(context_ids) - 1, len(whole) - 1)
    return sum(float(logits[p, t]) for p, t in zip(positions, continuation_ids, strict=True))


@pytest.fixture
def grootl_dir(model_dir):
    enable_tree_scan(load_model(model_dir), GrootLConfig(scale=1.0)).save_pretrained(model_dir)
    return model_dir


def test_loglikelihood_uses_each_context_as_prompt(grootl_dir):
    lm = GrootLM(pretrained=str(grootl_dir), device="cpu", batch_size=1)
    assert tree_scan_config(lm.model) == GrootLConfig(scale=1.0)
    pairs = [("the water is", " long"), ("how many people", " can you see two"), ("he was", " there")]
    requests = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    scores = [score for score, _ in lm.loglikelihood(requests)]
    expected = [_manual_loglikelihood(lm.model, lm.tokenizer, *pair) for pair in pairs]
    for got, want in zip(scores, expected, strict=True):
        assert math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-5)


def test_tree_can_be_switched_from_model_args(grootl_dir):
    assert tree_scan_config(GrootLM(pretrained=str(grootl_dir), device="cpu", tree=False).model) is None
    lm = GrootLM(pretrained=str(grootl_dir), device="cpu", causal=True)
    assert tree_scan_config(lm.model) == GrootLConfig(scale=1.0, causal=True)


def test_local_two_example_task(grootl_dir, tmp_path):
    data = tmp_path / "smoke.jsonl"
    data.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    (tmp_path / "smoke.yaml").write_text(
        "task: grootl_smoke\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "doc_to_text: '{{question}}'\n"
        "doc_to_choice: '{{choices}}'\n"
        "doc_to_target: '{{label}}'\n"
        "metric_list:\n  - metric: acc\n"
    )
    results = simple_evaluate(
        model="grootl",
        model_args=f"pretrained={grootl_dir},device=cpu,per_sequence_span=True",
        tasks=["grootl_smoke"],
        task_manager=TaskManager(include_path=str(tmp_path), include_defaults=False),
        batch_size=4,
        log_samples=True,
    )
    assert results["results"]["grootl_smoke"]["acc,none"] in (0.0, 0.5, 1.0)
    model = load_model(grootl_dir)
    enable_tree_scan(model, GrootLConfig(scale=1.0, per_sequence_span=True))
    lm_tokenizer = GrootLM(pretrained=str(grootl_dir), device="cpu").tokenizer
    samples = results["samples"]["grootl_smoke"]
    assert len(samples) == 2
    for sample in samples:
        for (context, continuation), response in zip(sample["arguments"], sample["resps"], strict=True):
            want = _manual_loglikelihood(model, lm_tokenizer, context, continuation)
            assert math.isclose(response[0][0], want, rel_tol=1e-5, abs_tol=1e-5)
