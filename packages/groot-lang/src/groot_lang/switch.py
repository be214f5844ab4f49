"""Turning the tree scan on and off in a model, and loading saved GrootL models."""

from __future__ import annotations

import os
from typing import Any

from torch import nn
from transformers import MambaForCausalLM
from transformers.models.mamba.modeling_mamba import MambaMixer

from .config import CONFIG_KEY, GrootLConfig
from .mixer import GrootLMixer, mamba_mixers

__all__ = ["disable_tree_scan", "enable_tree_scan", "load_model", "restore_tree_scan", "tree_scan_config"]


def enable_tree_scan(model: nn.Module, config: GrootLConfig | None = None) -> nn.Module:
    """Give every Mamba mixer of ``model`` the GrootL tree branch, in place.

    Only this model's mixer instances change class (to :class:`GrootLMixer`, a ``MambaMixer``
    subclass); parameters, state-dict keys, PEFT adapters and hooks stay as they are. The
    settings are stored in the model config under ``"grootl"``, so ``save_pretrained`` keeps
    them and :func:`load_model` restores them. Calling it again replaces the settings.

    Args:
        model: a ``MambaForCausalLM``/``MambaModel``, or any module holding them (e.g. a PEFT model).
        config: the tree-branch settings; default: the paper's.

    Returns:
        ``model`` itself.
    """
    config = config or GrootLConfig()
    mixers = mamba_mixers(model)
    for mixer in mixers:
        mixer.__class__ = GrootLMixer
        mixer.grootl = config
        mixer.prompt_lengths = None
    setattr(mixers[0].config, CONFIG_KEY, config.to_dict())
    return model


def disable_tree_scan(model: nn.Module) -> nn.Module:
    """Undo :func:`enable_tree_scan`: plain ``MambaMixer`` again, settings removed from the config."""
    mixers = mamba_mixers(model)
    for mixer in mixers:
        if isinstance(mixer, GrootLMixer):
            del mixer.grootl, mixer.prompt_lengths
            mixer.__class__ = MambaMixer
    if hasattr(mixers[0].config, CONFIG_KEY):
        delattr(mixers[0].config, CONFIG_KEY)
    return model


def tree_scan_config(model: nn.Module) -> GrootLConfig | None:
    """The settings of an enabled model, ``None`` for a plain Mamba."""
    mixer = mamba_mixers(model)[0]
    return mixer.grootl if isinstance(mixer, GrootLMixer) else None


def load_model(path: str | os.PathLike, **from_pretrained_kwargs: Any) -> MambaForCausalLM:
    """``MambaForCausalLM.from_pretrained`` that restores the tree branch saved in the config.

    A checkpoint saved without ``"grootl"`` in its config loads as a plain Mamba.

    Args:
        path: local directory (or hub id) of a ``save_pretrained`` checkpoint.
        **from_pretrained_kwargs: passed on, e.g. ``dtype=torch.bfloat16``.
    """
    return restore_tree_scan(MambaForCausalLM.from_pretrained(path, **from_pretrained_kwargs))


def restore_tree_scan(model: nn.Module) -> nn.Module:
    """Enable the tree branch saved in the config of a model loaded by plain transformers."""
    saved = getattr(mamba_mixers(model)[0].config, CONFIG_KEY, None)
    if saved is not None:
        enable_tree_scan(model, GrootLConfig.from_dict(saved))
    return model
