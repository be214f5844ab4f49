"""Instruction fine-tuning of a Mamba LM with LoRA, with or without the GrootL tree branch.

    python -m groot_lang.finetune --model PATH --data alpaca_data.json --output_dir out [--no-tree]
    torchrun --nproc_per_node 8 -m groot_lang.finetune ...     # multi-GPU (or accelerate launch)

Every ``transformers.TrainingArguments`` flag is accepted (``--bf16``, ``--save_steps``,
``--resume_from_checkpoint last``, ``--gradient_checkpointing`` …); defaults are the paper's recipe
(lr 2e-5 constant after 20 warm-up steps, 1 epoch, batch 1 × 16 accumulation). The merged model
(LoRA folded in, GrootL settings in its config) and the tokenizer are written to ``--output_dir``,
ready for :func:`groot_lang.load_model` and ``lm_eval --model grootl``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from transformers import AutoTokenizer, HfArgumentParser, MambaForCausalLM, TrainingArguments

from .alpaca import AlpacaDataset, InstructionCollator
from .config import GrootLConfig
from .lora import PAPER_LORA_TARGETS, add_lora, merge_lora
from .switch import disable_tree_scan, enable_tree_scan
from .trainer import GrootLTrainer

__all__ = ["FinetuneArguments", "main"]

PAPER_TRAINING_DEFAULTS = {
    "learning_rate": 2e-5,
    "lr_scheduler_type": "constant_with_warmup",
    "warmup_steps": 20,
    "num_train_epochs": 1.0,
    "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 16,
    "weight_decay": 0.0,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 100,
    "save_total_limit": 2,
    "report_to": "none",
}


@dataclass
class FinetuneArguments:
    """Model, data, tree branch and LoRA settings (the rest is ``TrainingArguments``)."""

    model: str = field(metadata={"help": "Directory of a MambaForCausalLM checkpoint and its tokenizer."})
    data: str = field(metadata={"help": "Alpaca-format JSON: a list of {instruction, input, output}."})
    tree: bool = field(
        default=True, metadata={"help": "GrootL tree branch; --no-tree trains the LoRA baseline."}
    )
    scale: float = field(default=0.3, metadata={"help": "Tree-branch weight s in h = chain + s·tree."})
    k: int = field(
        default=3, metadata={"help": "Graph window: prompt tokens link to their previous k tokens."}
    )
    causal: bool = field(default=False, metadata={"help": "Strictly causal tree rule (see GrootLConfig)."})
    max_length: int = field(default=2048, metadata={"help": "Truncate examples to this many tokens."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha."})
    lora_targets: list[str] = field(
        default_factory=lambda: list(PAPER_LORA_TARGETS),
        metadata={"help": "Modules that get LoRA adapters."},
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, fine-tune, save the merged model and tokenizer."""
    parser = HfArgumentParser((FinetuneArguments, TrainingArguments))
    parser.set_defaults(**PAPER_TRAINING_DEFAULTS)
    args, training_args = parser.parse_args_into_dataclasses(args=argv)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else torch.float32
    model = MambaForCausalLM.from_pretrained(args.model, dtype=dtype)
    # The LoRA baseline runs GrootL mixers with scale 0 (exactly HF Mamba), so both runs share one
    # code path and adapters on x_proj/out_proj apply on every backend.
    enable_tree_scan(
        model, GrootLConfig(scale=args.scale if args.tree else 0.0, k=args.k, causal=args.causal)
    )
    model = add_lora(model, args.lora_r, args.lora_alpha, args.lora_targets)
    if training_args.gradient_checkpointing:
        model.enable_input_require_grads()
    model.print_trainable_parameters()

    trainer = GrootLTrainer(
        model=model,
        args=training_args,
        train_dataset=AlpacaDataset(args.data, tokenizer, args.max_length),
        data_collator=InstructionCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
    )
    resume = training_args.resume_from_checkpoint
    trainer.train(resume_from_checkpoint=True if resume == "last" else resume)
    trainer.save_state()
    if trainer.is_world_process_zero():
        merged = merge_lora(model)
        if not args.tree:
            disable_tree_scan(merged)
        merged.save_pretrained(training_args.output_dir)
        tokenizer.save_pretrained(training_args.output_dir)


if __name__ == "__main__":
    main()
