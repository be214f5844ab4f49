"""The cache that CPU scan outputs of 1 MiB or more come from (groot_core.memory)."""

from __future__ import annotations

import threading

import groot_core as gc
import groot_core.reference as ref
import pytest
import torch

# 2 x 64 x 4096 float32 = 2 MiB per output: cached. 1 x 4 x 64 float32: not.
BATCH, CHANNELS, SIDE = 2, 64, 64


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts from an empty cache at the limit it found, and leaves it so."""
    limit = gc.cpu_output_cache_limit()
    gc.set_cpu_output_cache_limit(0)
    gc.set_cpu_output_cache_limit(limit)
    yield
    gc.set_cpu_output_cache_limit(0)
    gc.set_cpu_output_cache_limit(limit)


def test_the_limit_is_256_mib_unless_set():
    assert gc.cpu_output_cache_limit() == 256 << 20
    gc.set_cpu_output_cache_limit(5 << 20)
    assert gc.cpu_output_cache_limit() == 5 << 20


def problem(seed: int, batch: int = BATCH, channels: int = CHANNELS, side: int = SIDE):
    generator = torch.Generator().manual_seed(seed)
    tree = gc.grid_tree(torch.randn(batch, 3, side, side, generator=generator))
    x = torch.randn(batch, channels, side * side, generator=generator)
    decay = torch.rand(batch, channels, side * side, generator=generator)
    return x, decay, tree


def test_a_freed_output_is_handed_out_again_and_fully_overwritten():
    x, decay, tree = problem(0)
    y = gc.tree_scan(x, decay, tree)
    address = y.data_ptr()
    y.fill_(float("nan"))  # poison: the next scan must write every element of the block
    del y
    assert gc.cpu_output_cache_bytes() >= x.numel() * 4
    x2, decay2, tree2 = problem(1)
    y2 = gc.tree_scan(x2, decay2, tree2)
    assert y2.data_ptr() == address
    assert gc.cpu_output_cache_bytes() == 0
    expected = ref.tree_scan(x2.double(), decay2.double(), tree2)
    torch.testing.assert_close(y2.double(), expected, rtol=1e-5, atol=1e-5)


def test_gradients_come_from_the_cache_too():
    x, decay, tree = problem(2)
    x.requires_grad_()
    decay.requires_grad_()
    y = gc.tree_scan(x, decay, tree)
    grad_x, grad_decay = torch.autograd.grad(y, (x, decay), torch.randn_like(y), retain_graph=True)
    addresses = {grad_x.data_ptr(), grad_decay.data_ptr()}
    grad_x.fill_(float("nan"))
    grad_decay.fill_(float("nan"))
    del grad_x, grad_decay
    grad_x, grad_decay = torch.autograd.grad(y, (x, decay), torch.ones_like(y))
    assert {grad_x.data_ptr(), grad_decay.data_ptr()} == addresses
    assert torch.isfinite(grad_x).all() and torch.isfinite(grad_decay).all()
    expected = torch.autograd.grad(ref.tree_scan(x, decay, tree), (x, decay), torch.ones_like(y))
    for got, want in zip((grad_x, grad_decay), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_small_outputs_are_not_cached():
    x, decay, tree = problem(3, batch=1, channels=4, side=8)
    gc.tree_scan(x, decay, tree)  # freed at once
    assert gc.cpu_output_cache_bytes() == 0


def test_limit_zero_frees_the_cache_and_keeps_nothing():
    x, decay, tree = problem(4)
    kept = gc.tree_scan(x, decay, tree)
    gc.tree_scan(x, decay, tree)  # freed at once
    assert gc.cpu_output_cache_bytes() > 0
    gc.set_cpu_output_cache_limit(0)
    assert gc.cpu_output_cache_bytes() == 0
    del kept  # allocated before the limit changed, freed after it: not kept either
    assert gc.cpu_output_cache_bytes() == 0
    gc.set_cpu_output_cache_limit(1 << 30)
    gc.tree_scan(x, decay, tree)
    assert gc.cpu_output_cache_bytes() > 0


def test_the_limit_bounds_what_is_kept():
    x, decay, tree = problem(5)
    outputs = [gc.tree_scan(x, decay, tree) for _ in range(4)]
    block = 3 << 20  # one 2 MiB output and its rounding stay under 3 MiB
    gc.set_cpu_output_cache_limit(2 * block)
    del outputs
    assert 0 < gc.cpu_output_cache_bytes() <= 2 * block


def test_scans_on_many_threads_get_their_own_blocks():
    problems = [problem(seed) for seed in range(4)]
    expected = [gc.tree_scan(*p) for p in problems]
    results: dict[int, list[torch.Tensor]] = {}

    def work(i: int) -> None:
        results[i] = [gc.tree_scan(*problems[i]) for _ in range(8)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    live = [y.data_ptr() for ys in results.values() for y in ys]
    assert len(set(live)) == len(live) == 32  # live outputs never share memory
    for i, want in enumerate(expected):
        for y in results[i]:
            assert torch.equal(y, want)


@pytest.mark.parametrize("limit", [-1, 1.5, True, "1"])
def test_a_bad_limit_is_a_value_error(limit):
    with pytest.raises(ValueError, match="limit_bytes"):
        gc.set_cpu_output_cache_limit(limit)
