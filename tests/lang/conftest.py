"""Fixtures of the groot-lang tests."""

from __future__ import annotations

import pytest
from lang_models import tiny_model, word_tokenizer


@pytest.fixture
def model_dir(tmp_path):
    """A saved tiny plain Mamba checkpoint (HF's init) with its tokenizer."""
    path = tmp_path / "mamba-tiny"
    tiny_model(wide=False).save_pretrained(path)
    word_tokenizer().save_pretrained(path)
    return path
