"""Alpaca formatting, prompt masking and prompt lengths from labels."""

from __future__ import annotations

import json

import torch
from groot_lang import IGNORE_INDEX, prompt_lengths_from_labels
from groot_lang.alpaca import AlpacaDataset, InstructionCollator, format_prompt
from lang_models import word_tokenizer

RECORDS = [
    {"instruction": "write the word", "input": "water", "output": "water"},
    {"instruction": "say it", "input": "", "output": "the one two"},
]


def test_template_is_the_papers():
    assert (
        format_prompt(RECORDS[0]) == "### Instruction:\nwrite the word\n\n### Input:\nwater\n\n### Response:"
    )
    assert format_prompt(RECORDS[1]) == "### Instruction:\nsay it\n\n### Response:"


def test_prompt_is_masked_and_lengths_come_back_from_labels(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps(RECORDS))
    tokenizer = word_tokenizer()
    dataset = AlpacaDataset(path, tokenizer, max_length=64)
    prompt_sizes = [len(tokenizer(format_prompt(r), add_special_tokens=False)["input_ids"]) for r in RECORDS]
    for item, record, size in zip(dataset, RECORDS, prompt_sizes, strict=True):
        assert (item["labels"][:size] == IGNORE_INDEX).all()
        response = tokenizer.decode(item["labels"][size:-1])
        assert response == record["output"] and item["labels"][-1] == tokenizer.eos_token_id
        assert torch.equal(item["input_ids"][size:], item["labels"][size:])

    batch = InstructionCollator(tokenizer.pad_token_id)([dataset[0], dataset[1]])
    lengths = [len(dataset[0]["input_ids"]), len(dataset[1]["input_ids"])]
    assert batch["input_ids"].shape == (2, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert prompt_lengths_from_labels(batch["labels"]).tolist() == prompt_sizes


def test_all_masked_row_counts_as_all_prompt():
    labels = torch.tensor([[IGNORE_INDEX] * 4, [IGNORE_INDEX, 5, 6, IGNORE_INDEX]])
    assert prompt_lengths_from_labels(labels).tolist() == [4, 1]
