"""groot_lang: GrootL, tree-topology scanning for pretrained Mamba language models.

GrootL (GrootVL, arXiv 2406.02395) adds a tree branch to every selective scan of a Hugging Face
``MambaForCausalLM`` without new parameters: ``h = chain + 0.3 · tree``, the tree being the
minimum spanning tree of a graph linking each prompt token to its previous 3 tokens.

>>> model = enable_tree_scan(MambaForCausalLM.from_pretrained(path))   # doctest: +SKIP
>>> with prompt_lengths(model, [12]):                                   # doctest: +SKIP
...     logits = model(input_ids).logits
"""

from .config import GrootLConfig
from .lora import PAPER_LORA_TARGETS, add_lora, load_lora, merge_lora
from .mixer import GrootLMixer
from .prompt import IGNORE_INDEX, prompt_lengths, prompt_lengths_from_labels
from .switch import disable_tree_scan, enable_tree_scan, load_model, restore_tree_scan, tree_scan_config

__version__ = "0.1.0"

__all__ = [
    "IGNORE_INDEX",
    "PAPER_LORA_TARGETS",
    "GrootLConfig",
    "GrootLMixer",
    "add_lora",
    "disable_tree_scan",
    "enable_tree_scan",
    "load_lora",
    "load_model",
    "merge_lora",
    "prompt_lengths",
    "prompt_lengths_from_labels",
    "restore_tree_scan",
    "tree_scan_config",
]
