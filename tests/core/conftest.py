"""Fixtures of the groot_core tests. Shared references live in brute_force.py and random_trees.py
(importable because pytest puts this directory on sys.path)."""

from __future__ import annotations

import zlib

import pytest
import torch


@pytest.fixture
def rng(request) -> torch.Generator:
    """A generator seeded from the test id: reproducible, different for every parametrization."""
    return torch.Generator().manual_seed(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def restore_threads():
    """Restores torch's intra-op thread count after a test that changes it."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
