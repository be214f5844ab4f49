"""Tiny random Mamba models and a word-level tokenizer, built in-process (no hub access)."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import MambaConfig, MambaForCausalLM, PreTrainedTokenizerFast

WORDS = (
    "### Instruction: Input: Response: the a of to and is in it you that he was for on are with as I his "
    "they be at one have this from or had by word but what some we can out other were all there when up "
    "use your how said an each she which do their time if will way about many then them write would like "
    "so these her long make thing see him two has look more day could go come did number sound no most "
    "people my over know water than call first who may down side been now find"
).split()


def tiny_config() -> MambaConfig:
    """hidden 32, 2 layers, state 4 (d_inner 64, 256 scanned channels), vocab 112."""
    return MambaConfig(
        vocab_size=112, hidden_size=32, num_hidden_layers=2, state_size=4, pad_token_id=0, eos_token_id=1
    )


def tiny_model(seed: int = 0, dtype: torch.dtype = torch.float32, wide: bool = True) -> MambaForCausalLM:
    """A tiny Mamba; ``wide`` spreads the weights wider than HF's init so the tree branch matters.

    HF's init gives Δ ≈ 0.001–0.1 and near-1 decays, where the tree branch changes the logits by
    ~1e-4; wide weights give Δ ≈ 0.3–3 and O(1) projections (and a poor start for training).
    """
    torch.manual_seed(seed)
    model = MambaForCausalLM(tiny_config())
    if not wide:
        return model.to(dtype).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("dt_proj.bias"):
                parameter.uniform_(-1.0, 2.0)
            elif name.endswith("A_log"):
                parameter.uniform_(-1.0, 1.0)
            elif parameter.dim() > 1:
                parameter.normal_(0.0, 1.0 / parameter.shape[-1] ** 0.5 * 2)
    return model.to(dtype).eval()


def word_tokenizer() -> PreTrainedTokenizerFast:
    """Whitespace word-level tokenizer over :data:`WORDS` (ids 0 pad, 1 eos, 2 unk)."""
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2} | {word: i + 3 for i, word in enumerate(dict.fromkeys(WORDS))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
