"""lm-evaluation-harness integration: the ``grootl`` model.

    python -m groot_lang.evaluation --model grootl --model_args pretrained=PATH \\
        --tasks piqa,arc_easy,sst2,winogrande,lambada_openai,race,openbookqa --batch_size 1

(the harness's own command line, with the ``grootl`` model registered). In Python, import this
module and pass ``model="grootl"`` or a :class:`GrootLM` to ``lm_eval.simple_evaluate``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from .config import GrootLConfig
from .prompt import prompt_lengths
from .switch import disable_tree_scan, enable_tree_scan, restore_tree_scan, tree_scan_config

__all__ = ["PAPER_TASKS", "GrootLM"]

# The paper's zero-shot suite (LAMBADA reported as perplexity).
PAPER_TASKS = ("piqa", "arc_easy", "sst2", "winogrande", "lambada_openai", "race", "openbookqa")

_PAD = 0  # lm-eval right-pads loglikelihood batches with token id 0


def _unpadded(tokens: Sequence[int]) -> tuple[int, ...]:
    end = len(tokens)
    while end and tokens[end - 1] == _PAD:
        end -= 1
    return tuple(tokens[:end])


@register_model("grootl")
class GrootLM(HFLM):
    """``HFLM`` for Mamba checkpoints with the GrootL tree branch.

    The tree settings saved in the checkpoint's config are used unless overridden. Each
    loglikelihood request is scored with its context as the prompt span, as in the paper; with
    the paper's rule (``per_sequence_span=False``) a batch uses its shortest context, so the
    paper's numbers come from ``batch_size=1``.

    Args:
        pretrained: checkpoint directory (or a loaded model), as for ``HFLM``.
        tree: ``True`` adds the tree branch to a plain checkpoint, ``False`` removes it,
            ``None`` keeps what the checkpoint says.
        scale, k, span, per_sequence_span, causal: override one :class:`GrootLConfig` field.
        **kwargs: ``HFLM`` arguments (``device``, ``dtype``, ``batch_size``, ``peft`` …).
    """

    def __init__(
        self,
        pretrained: Any,
        tree: bool | None = None,
        scale: float | None = None,
        k: int | None = None,
        span: str | None = None,
        per_sequence_span: bool | None = None,
        causal: bool | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("backend", "causal")
        super().__init__(pretrained=pretrained, **kwargs)
        overrides = {
            name: value
            for name, value in (
                ("scale", scale),
                ("k", k),
                ("span", span),
                ("per_sequence_span", per_sequence_span),
                ("causal", causal),
            )
            if value is not None
        }
        config = tree_scan_config(restore_tree_scan(self._model))
        if tree is False:
            disable_tree_scan(self._model)
        elif tree or config is not None or overrides:
            enable_tree_scan(self._model, dataclasses.replace(config or GrootLConfig(), **overrides))
        self._prompt_spans: dict[tuple[int, ...], int] = {}

    def _loglikelihood_tokens(
        self, requests: list, disable_tqdm: bool = False, override_bs: int | None = None
    ) -> list:
        # The harness batches model inputs without saying where each context ends: remember it
        # by the input tokens (as the harness truncates them) so _model_call can look it up.
        self._prompt_spans = {}
        for _, context, continuation in requests:
            tokens = (context + continuation)[-(self.max_length + 1) :][:-1]
            key = _unpadded(tokens)
            span = max(len(tokens) - len(continuation) + 1, 0)
            self._prompt_spans[key] = min(span, self._prompt_spans.get(key, span))
        try:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        finally:
            self._prompt_spans = {}

    def _model_call(
        self, inps: torch.Tensor, attn_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        spans = [self._prompt_spans.get(_unpadded(row), inps.shape[1]) for row in inps.tolist()]
        with prompt_lengths(self._model, spans):
            return super()._model_call(inps, attn_mask=attn_mask, labels=labels)


def main() -> None:
    """The harness's command line with the ``grootl`` model registered."""
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":
    main()
