"""LoRA adapters (PEFT) on GrootL models, including the Mamba ``out_proj`` the paper adapts."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from .mixer import GrootLMixer, mamba_mixers

__all__ = ["PAPER_LORA_TARGETS", "add_lora", "load_lora", "merge_lora"]

PAPER_LORA_TARGETS = ("x_proj", "embeddings", "in_proj", "out_proj")


@contextmanager
def _mamba_adapter_guard_lifted(model: nn.Module) -> Iterator[None]:
    """Let PEFT adapt ``out_proj`` of GrootL mixers.

    PEFT refuses LoRA on a Mamba's ``out_proj`` because HF's fused CUDA training path reads
    ``out_proj.weight`` directly and would skip the adapter. GrootL mixers always call
    ``x_proj``/``in_proj``/``out_proj`` as modules, so adapters apply; PEFT recognises a Mamba by
    ``config.model_type``, which reads differently while the adapters are attached.
    """
    mixers = mamba_mixers(model)
    if not all(isinstance(m, GrootLMixer) for m in mixers):
        raise ValueError("enable_tree_scan(model, ...) first (GrootLConfig(scale=0) is plain Mamba)")
    config = mixers[0].config
    config.model_type = "grootl-mamba"
    try:
        yield
    finally:
        del config.model_type


def add_lora(
    model: nn.Module, r: int = 8, alpha: int = 16, targets: Sequence[str] = PAPER_LORA_TARGETS
) -> PeftModel:
    """Wrap a GrootL model with trainable LoRA adapters (the paper's: r 8, α 16, no dropout).

    As in the paper, an adapter on the (tied) embeddings changes only the input side; the LM
    head keeps the base matrix (see :func:`merge_lora`).
    """
    lora = LoraConfig(
        r=r,
        lora_alpha=alpha,
        target_modules=list(targets),
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with _mamba_adapter_guard_lifted(model):
        return get_peft_model(model, lora)


def load_lora(model: nn.Module, path: str | os.PathLike, is_trainable: bool = False) -> PeftModel:
    """Attach saved adapters (a ``checkpoint-*`` directory of the fine-tuning run) to a GrootL model."""
    with _mamba_adapter_guard_lifted(model):
        return PeftModel.from_pretrained(model, path, is_trainable=is_trainable)


def merge_lora(model: PeftModel) -> nn.Module:
    """Fold the adapters into the weights; the result computes exactly what the adapted model did.

    The LM head shares the embedding matrix, but the embedding adapter was trained on the input
    side only, so the head is untied and keeps its unadapted weights (a plain
    ``merge_and_unload``, as in the paper's merge script, would shift the head too).
    """
    embeddings, head = model.get_input_embeddings(), model.get_output_embeddings().weight
    adapted_tied = hasattr(embeddings, "base_layer") and head is embeddings.base_layer.weight
    head = head.detach().clone()
    merged = model.merge_and_unload()
    if adapted_tied:
        merged.config.tie_word_embeddings = False
        merged.get_output_embeddings().weight = nn.Parameter(head, requires_grad=False)
    return merged
