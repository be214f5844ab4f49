"""Results do not depend on the thread count or on the run: bit-identical outputs."""

from __future__ import annotations

import groot_core as gc
import torch


def pipeline(
    guide: torch.Tensor, x: torch.Tensor, decay: torch.Tensor, grad_y: torch.Tensor
) -> list[torch.Tensor]:
    """Every CPU operator at a size where the core splits the work over threads."""
    batch, channels, height, width = guide.shape
    features = guide.reshape(batch, channels, height * width)
    edges = gc.grid_edges(height, width)
    weights = gc.edge_weights(features, edges, "cosine")
    tree = gc.minimum_spanning_tree(edges, weights, height * width)
    schedule = gc.bfs(tree, height * width, 5)
    outputs = [weights, gc.edge_weights(features, edges, "l1"), tree, *schedule]
    for mode in ("all", "root"):
        leaves = x.clone().requires_grad_(), decay.clone().requires_grad_()
        y = gc.tree_scan(*leaves, schedule, mode)
        outputs += [y, *torch.autograd.grad(y, leaves, grad_y)]
    return outputs


def test_one_and_two_threads_agree_bitwise(rng, restore_threads):
    guide = torch.randn(4, 8, 56, 56, generator=rng)
    x, decay, grad_y = (
        torch.randn(4, 16, 3136, generator=rng),
        torch.rand(4, 16, 3136, generator=rng),
        torch.randn(4, 16, 3136, generator=rng),
    )
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        results[threads] = pipeline(guide, x, decay, grad_y)
    results["again"] = pipeline(guide, x, decay, grad_y)
    for one, two, again in zip(results[1], results[2], results["again"], strict=True):
        assert torch.equal(one, two) and torch.equal(two, again)
