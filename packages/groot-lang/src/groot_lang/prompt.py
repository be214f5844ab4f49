"""Telling the mixers where each sequence's prompt ends."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from .mixer import GrootLMixer

__all__ = ["IGNORE_INDEX", "prompt_lengths", "prompt_lengths_from_labels"]

IGNORE_INDEX = -100


def prompt_lengths_from_labels(labels: torch.Tensor) -> torch.Tensor:
    """Prompt length of each sequence: its number of leading ``-100`` (masked-out) labels.

    Args:
        labels: ``(B, L)`` int64, prompt tokens (and padding) set to ``-100``.

    Returns:
        ``(B,)`` int64 on the CPU.
    """
    answered = (labels != IGNORE_INDEX).to(torch.int64)
    first_answer = answered.argmax(dim=1)
    return torch.where(answered.any(dim=1), first_answer, labels.shape[1]).cpu()


@contextmanager
def prompt_lengths(model: nn.Module, lengths: torch.Tensor | Sequence[int] | None) -> Iterator[None]:
    """Run forward (and backward) passes of ``model`` with these prompt lengths.

    Outside this block, or with ``None``, the mixers count the whole input as the prompt. Keep
    the backward pass inside too when gradient checkpointing recomputes the forward.

    Args:
        model: a model with GrootL mixers (any wrapper, e.g. PEFT).
        lengths: ``(B,)`` prompt length of each sequence of the batch.
    """
    if lengths is not None:
        lengths = torch.as_tensor(lengths, dtype=torch.int64).cpu()
    mixers = [module for module in model.modules() if isinstance(module, GrootLMixer)]
    previous = [mixer.prompt_lengths for mixer in mixers]
    for mixer in mixers:
        mixer.prompt_lengths = lengths
    try:
        yield
    finally:
        for mixer, value in zip(mixers, previous, strict=True):
            mixer.prompt_lengths = value
