"""The fine-tuning CLI: LoRA + GrootL learns a tiny instruction set; outputs load back."""

from __future__ import annotations

import json
import random

import torch
from groot_lang import GrootLConfig, enable_tree_scan, load_lora, load_model, prompt_lengths, tree_scan_config
from groot_lang.alpaca import AlpacaDataset, InstructionCollator
from groot_lang.finetune import main as finetune
from lang_models import WORDS, word_tokenizer


def _instruction_set(path, count: int = 24) -> None:
    """Four instructions, each with its own fixed answer, applied to random inputs."""
    rng = random.Random(0)
    words = [w for w in WORDS if not w.startswith("#") and not w.endswith(":")]
    tasks = [("say it", "the one two"), ("write it", "water sound"), ("find it", "no"), ("call it", "he was")]
    records = []
    for i in range(count):
        instruction, answer = tasks[i % len(tasks)]
        records.append(
            {"instruction": instruction, "input": " ".join(rng.sample(words, 3)), "output": answer}
        )
    path.write_text(json.dumps(records))


def _run(model_dir, data, out, *extra: str) -> list[float]:
    finetune(
        [
            "--model",
            str(model_dir),
            "--data",
            str(data),
            "--output_dir",
            str(out),
            "--per_device_train_batch_size",
            "4",
            "--gradient_accumulation_steps",
            "1",
            "--learning_rate",
            "2e-2",
            "--warmup_steps",
            "2",
            "--logging_steps",
            "1",
            "--save_steps",
            "100",
            "--disable_tqdm",
            "true",
            "--seed",
            "0",
            *extra,
        ]
    )
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    return [entry["loss"] for entry in history if "loss" in entry]


def test_lora_grootl_loss_decreases_and_merged_model_is_the_trained_one(model_dir, tmp_path):
    data = tmp_path / "copy.json"
    _instruction_set(data)
    out = tmp_path / "grootl"
    losses = _run(model_dir, data, out, "--max_steps", "16", "--save_steps", "16", "--gradient_checkpointing")
    assert len(losses) == 16
    assert sum(losses[-4:]) / 4 < 0.8 * sum(losses[:4]) / 4, losses

    merged = load_model(out)
    assert tree_scan_config(merged) == GrootLConfig()
    adapted = load_lora(enable_tree_scan(load_model(model_dir)), out / "checkpoint-16").eval()
    tokenizer = word_tokenizer()
    batch = InstructionCollator(tokenizer.pad_token_id)(list(AlpacaDataset(data, tokenizer, 64))[:3])
    with torch.no_grad(), prompt_lengths(merged, [10, 10, 10]), prompt_lengths(adapted, [10, 10, 10]):
        torch.testing.assert_close(
            merged(batch["input_ids"]).logits, adapted(batch["input_ids"]).logits, rtol=1e-4, atol=1e-4
        )


def test_lora_baseline_and_resume(model_dir, tmp_path):
    data = tmp_path / "copy.json"
    _instruction_set(data, count=8)
    out = tmp_path / "lora"
    assert len(_run(model_dir, data, out, "--no-tree", "--max_steps", "2", "--save_steps", "2")) == 2
    assert tree_scan_config(load_model(out)) is None
    losses = _run(model_dir, data, out, "--no-tree", "--max_steps", "4", "--resume_from_checkpoint", "last")
    steps = [
        e["step"] for e in json.loads((out / "trainer_state.json").read_text())["log_history"] if "loss" in e
    ]
    assert steps == [1, 2, 3, 4] and len(losses) == 4
