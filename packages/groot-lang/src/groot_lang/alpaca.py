"""Alpaca-format instruction data: the paper's prompt template, tokenisation and batching."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset
from transformers import PreTrainedTokenizerBase

from .prompt import IGNORE_INDEX

__all__ = ["AlpacaDataset", "InstructionCollator", "format_prompt"]

PROMPT_WITH_INPUT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
PROMPT_WITHOUT_INPUT = "### Instruction:\n{instruction}\n\n### Response:"


def format_prompt(example: Mapping[str, str]) -> str:
    """The paper's template for one record with ``instruction`` and optional ``input``."""
    template = PROMPT_WITH_INPUT if example.get("input") else PROMPT_WITHOUT_INPUT
    return template.format(instruction=example["instruction"], input=example.get("input", ""))


class AlpacaDataset(Dataset):
    """Tokenised ``{"instruction", "input", "output"}`` records, prompt tokens masked out of the loss.

    Each item is ``prompt + output + eos`` as ``input_ids`` (1-D int64) and ``labels`` equal to it
    except ``-100`` over the prompt, so the loss covers only the response. Prompt and response are
    tokenised separately, so the mask falls exactly on the boundary.
    """

    def __init__(self, path: str | os.PathLike, tokenizer: PreTrainedTokenizerBase, max_length: int) -> None:
        with open(path, encoding="utf-8") as file:
            records = json.load(file)
        self.items = [self._encode(record, tokenizer, max_length) for record in records]

    @staticmethod
    def _encode(
        record: Mapping[str, str], tokenizer: PreTrainedTokenizerBase, max_length: int
    ) -> dict[str, torch.Tensor]:
        prompt = tokenizer(format_prompt(record), add_special_tokens=False)["input_ids"]
        response = tokenizer(record["output"], add_special_tokens=False)["input_ids"] + [
            tokenizer.eos_token_id
        ]
        input_ids = torch.tensor(prompt + response, dtype=torch.int64)[:max_length]
        labels = input_ids.clone()
        labels[: len(prompt)] = IGNORE_INDEX
        return {"input_ids": input_ids, "labels": labels}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]


@dataclass
class InstructionCollator:
    """Right-pads a list of :class:`AlpacaDataset` items into ``(B, L)`` tensors."""

    pad_token_id: int

    def __call__(self, items: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        def pad(key: str, value: int) -> torch.Tensor:
            return torch.nn.utils.rnn.pad_sequence(
                [item[key] for item in items], batch_first=True, padding_value=value
            )

        input_ids = pad("input_ids", self.pad_token_id)
        lengths = torch.tensor([len(item["input_ids"]) for item in items])
        return {
            "input_ids": input_ids,
            "labels": pad("labels", IGNORE_INDEX),
            "attention_mask": (torch.arange(input_ids.shape[1])[None, :] < lengths[:, None]).to(torch.int64),
        }
