"""The GrootL mixer: HF transformers' ``MambaMixer`` with the tree-topology scan."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers.cache_utils import Cache
from transformers.models.mamba.modeling_mamba import (
    MambaMixer,
    apply_mask_to_padding_states,
    causal_conv1d_fn,
    causal_conv1d_update,
)

from .config import GrootLConfig
from .scan import recurrent_ssm, tree_ssm
from .tree import token_tree

__all__ = ["GrootLMixer", "mamba_mixers"]


def mamba_mixers(model: nn.Module) -> list[MambaMixer]:
    """Every transformers ``MambaMixer`` (GrootL or not) inside ``model``; raises if none."""
    mixers = [module for module in model.modules() if isinstance(module, MambaMixer)]
    if not mixers:
        raise ValueError(f"{type(model).__name__} has no transformers MambaMixer")
    return mixers


class GrootLMixer(MambaMixer):
    """``MambaMixer`` whose selective scan is ``h = chain + s · tree`` (no new parameters).

    Instances are made by :func:`groot_lang.enable_tree_scan`, which turns a model's existing
    mixers into this class in place (same parameters, same state-dict keys).

    Attributes:
        grootl: the tree-branch settings.
        prompt_lengths: ``(B,)`` int64 prompt lengths of the current batch, set by
            :func:`groot_lang.prompt_lengths`; ``None`` counts the whole input as the prompt.
    """

    grootl: GrootLConfig
    prompt_lengths: torch.Tensor | None

    def forward(
        self,
        hidden_states: torch.Tensor,
        cache: Cache | None = None,
        attention_mask: torch.LongTensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        """``(B, L, hidden)`` → ``(B, L, hidden)``; with a cached state, recurrent steps."""
        dtype = hidden_states.dtype
        state = cache.get_recurrent_state(self.layer_idx) if cache is not None else None
        hidden_states = apply_mask_to_padding_states(hidden_states, attention_mask)
        u, gate = self.in_proj(hidden_states).transpose(1, 2).chunk(2, dim=1)
        u = self._convolve(u, cache)
        u = apply_mask_to_padding_states(u.transpose(1, 2), attention_mask)
        time_step, b, c = torch.split(
            self.x_proj(u), [self.time_step_rank, self.ssm_state_size, self.ssm_state_size], dim=-1
        )
        u = u.transpose(1, 2)
        # Like HF: float32 state parameters for float32 and half models (float64 stays float64).
        precision = torch.promote_types(dtype, torch.float32)
        dt = self.dt_proj.weight @ time_step.transpose(1, 2)
        dt = F.softplus(dt + self.dt_proj.bias.to(precision).to(dt.dtype)[:, None])
        a = -torch.exp(self.A_log.to(precision))

        if state is None:
            valid = attention_mask.bool() if attention_mask is not None else None
            y, last_state = self._scan_sequence(u, dt, a, b, c, valid)
            if cache is not None:
                cache.update_recurrent_state(last_state, self.layer_idx)
        else:
            y, last_state = recurrent_ssm(state, u, dt, a, b, c, 1 + self.grootl.scale)
            cache.update_recurrent_state(last_state, self.layer_idx)

        y = (y + u * self.D.to(precision)[None, :, None]) * F.silu(gate)
        return self.out_proj(y.transpose(1, 2).to(dtype))

    def _convolve(self, u: torch.Tensor, cache: Cache | None) -> torch.Tensor:
        """Mamba's causal depthwise conv + activation, continuing from the cached conv state."""
        seq_len = u.shape[-1]
        conv_state = cache.get_conv_state(self.layer_idx) if cache is not None else None
        weight = self.conv1d.weight.squeeze(1)
        if conv_state is not None and seq_len == 1 and not cache.is_recording_past(self.layer_idx):
            return causal_conv1d_update(u, conv_state, weight, self.conv1d.bias, activation=self.activation)
        if cache is not None:
            u = cache.update_conv_state(u, self.layer_idx, conv_kernel_size=self.conv_kernel_size)
        u = causal_conv1d_fn(u, weight, self.conv1d.bias, activation=self.activation)
        return u[:, :, -seq_len:]

    def _scan_sequence(
        self,
        u: torch.Tensor,
        dt: torch.Tensor,
        a: torch.Tensor,
        b: torch.Tensor,
        c: torch.Tensor,
        valid: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Chain + tree over a whole sequence (training, scoring, generation prefill)."""
        settings = self.grootl
        spans = self._spans(u.shape[0], u.shape[-1])
        tree = tree_from = None
        if settings.scale and int(spans.max()) > 2:
            spans = spans.to(u.device)
            tree = token_tree(dt * u.to(a.dtype), b.transpose(1, 2).to(a.dtype), spans, settings.k, valid)
            if settings.causal:
                tree_from = spans - 1
        args = (u, dt, a, b, c, tree, settings.scale, tree_from)
        if torch.is_grad_enabled():
            # The (B, D·N, L) scan tensors are rebuilt in backward: a layer keeps only (B, D, L)-sized
            # inputs, not ~8 tensors of D·N channels (tens of GB for Mamba-130M at L=2048).
            return checkpoint(tree_ssm, *args, use_reentrant=False)
        return tree_ssm(*args)

    def _spans(self, batch: int, length: int) -> torch.Tensor:
        """``(B,)`` int64 (CPU) number of leading tokens that get the k-window graph."""
        lengths = self.prompt_lengths
        if self.grootl.span == "sequence" or lengths is None:
            return torch.full((batch,), length, dtype=torch.int64)
        if lengths.shape != (batch,):
            raise ValueError(
                f"prompt_lengths has shape {tuple(lengths.shape)}, the batch has {batch} sequences"
            )
        spans = lengths.detach().to("cpu", torch.int64).clamp(0, length)
        return spans if self.grootl.per_sequence_span else spans.min().expand(batch)
