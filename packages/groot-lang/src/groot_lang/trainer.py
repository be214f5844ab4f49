"""A Hugging Face ``Trainer`` that tells GrootL mixers where each prompt ends."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn
from transformers import Trainer

from .prompt import prompt_lengths, prompt_lengths_from_labels

__all__ = ["GrootLTrainer"]


class GrootLTrainer(Trainer):
    """``Trainer`` whose steps run with prompt lengths read from the labels' leading ``-100``s.

    The whole step (forward and backward) runs inside :func:`groot_lang.prompt_lengths`, so the
    forward recomputed by gradient checkpointing builds the same trees. For a model without
    GrootL mixers (the LoRA baseline) this is plain ``Trainer``.
    """

    def training_step(
        self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        with _prompt_span(model, inputs):
            return super().training_step(model, inputs, num_items_in_batch)

    def prediction_step(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        with _prompt_span(model, inputs):
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)


def _prompt_span(model: nn.Module, inputs: dict[str, Any]) -> AbstractContextManager[None]:
    labels = inputs.get("labels")
    return prompt_lengths(model, None if labels is None else prompt_lengths_from_labels(labels))
