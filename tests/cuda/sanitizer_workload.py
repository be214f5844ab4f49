"""Runs every CUDA kernel once on small inputs: the workload for compute-sanitizer.

    compute-sanitizer --tool memcheck python tests/cuda/sanitizer_workload.py
    compute-sanitizer --tool racecheck python tests/cuda/sanitizer_workload.py --valid-only
    compute-sanitizer --tool initcheck python tests/cuda/sanitizer_workload.py --valid-only

Inputs that are no tree are part of the memcheck run (they must stay in bounds); their results
are unspecified, so racecheck and initcheck run on valid inputs only.
"""

import sys

import groot_core as gc
import torch
from shaped_trees import spider, star


def main() -> None:
    # 260×260 exceeds shared memory: the Euler-tour BFS and the scan's workspace variants run too;
    # it and 100×100 also take the MST's cooperative launch over the whole GPU.
    cases = [
        (dtype, h, w)
        for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16)
        for h, w in [(1, 1), (1, 7), (9, 13), (40, 40)]
    ] + [(torch.float32, 260, 260), (torch.float64, 100, 100)]
    for dtype, h, w in cases:
        guide = torch.randn(2, 6, h, w, device="cuda", dtype=dtype)
        edges = gc.grid_edges(h, w, device="cuda")
        for metric in ("cosine", "l1", "l2"):
            weights = gc.edge_weights(guide.reshape(2, 6, h * w), edges, metric)
            # Channels-last features are read as they are (vertex-major): 6 channels element by
            # element (by 16-byte loads in float64), 64 and 640 by 16-byte loads, 8 lanes an item
            # (32 at 640).
            gc.edge_weights(guide.permute(0, 2, 3, 1).reshape(2, h * w, 6).transpose(1, 2), edges, metric)
            for channels in (64, 640):
                wide = torch.randn(2, h * w, channels, device="cuda", dtype=dtype).transpose(1, 2)
                gc.edge_weights(wide, edges, metric)
        tree = gc.bfs(gc.minimum_spanning_tree(edges, weights, h * w), h * w, root=h * w // 2)
        x = torch.randn(2, 5, h * w, device="cuda", dtype=dtype, requires_grad=True)
        decay = torch.rand(2, 5, h * w, device="cuda", dtype=dtype, requires_grad=True)
        # Token-major memory (the channels-last kernels): a full and a partial tile of 32 channels,
        # a lane per channel (37) or per pair of channels (38).
        token_major = [
            (
                torch.randn(2, h * w, d, device="cuda", dtype=dtype).transpose(1, 2).requires_grad_(),
                torch.rand(2, h * w, d, device="cuda", dtype=dtype).transpose(1, 2).requires_grad_(),
            )
            for d in (37, 38)
        ]
        for mode in ("all", "root"):
            gc.tree_scan(x, decay, tree, mode).square().sum().backward()
            for x_cl, decay_cl in token_major:
                gc.tree_scan(x_cl, decay_cl, tree, mode).square().sum().backward()
    # Borůvka with a block per graph, the graphs too large for its shared-memory arrays.
    edges = gc.grid_edges(130, 130, device="cuda")
    gc.minimum_spanning_tree(edges, torch.rand(16, edges.shape[0], device="cuda"), 130 * 130)
    # Depth bands whose backward sweeps also take pairs (18 blocks of 8 warps); the chains copy the
    # levels where bands meet into shared memory, here and above.
    tree = gc.grid_tree(torch.randn(9, 4, 40, 40, device="cuda"))
    x = torch.randn(9, 1600, 64, device="cuda").transpose(1, 2).requires_grad_()
    gc.tree_scan(x, torch.rand_like(x).requires_grad_(), tree).square().sum().backward()
    # A star of 20 000 leaves: one band too wide for a block's shared memory (read from the workspace).
    x = torch.randn(1, 20000, 37, device="cuda").transpose(1, 2).requires_grad_()
    gc.tree_scan(x, torch.rand_like(x).requires_grad_(), star(20000, "cuda")).square().sum().backward()
    # A spider of 6 000 legs of 140: three bands whose tops and bottoms are too wide for a chain
    # block's shared memory (read from the workspace).
    x = torch.randn(1, 6000 * 140 + 1, 4, device="cuda").transpose(1, 2).requires_grad_()
    gc.tree_scan(x, torch.rand_like(x).requires_grad_(), spider(6000, 140, "cuda")).square().sum().backward()
    # A broom (200 legs of 60 under a handle of 29): band bottoms reached by walks up the band, and
    # the band over the fan by a pass over its levels.
    x = torch.randn(1, 200 * 60 + 30, 6, device="cuda").transpose(1, 2).requires_grad_()
    broom = spider(200, 60, "cuda", handle=29)
    gc.tree_scan(x, torch.rand_like(x).requires_grad_(), broom).square().sum().backward()
    # The channel walk of small trees: 300 token-major channels (blocks of 128 threads, the last
    # one partial), forward and both backwards.
    for tree in (star(100, "cuda"), spider(3, 20, "cuda", handle=2)):
        x = torch.randn(1, tree.order.shape[1], 300, device="cuda").transpose(1, 2).requires_grad_()
        for mode in ("all", "root"):
            gc.tree_scan(x, torch.rand_like(x).requires_grad_(), tree, mode).square().sum().backward()
    gc.sequence_edges(100, 3, device="cuda")
    if "--valid-only" not in sys.argv:
        run_invalid_inputs()
    torch.cuda.synchronize()
    print("sanitizer workload done")


def run_invalid_inputs() -> None:
    # Inputs that are no tree must stay in bounds (results unspecified, no crash).
    bad = torch.tensor([[[0, 1], [1, 5], [7, 2], [0, 0]]], device="cuda")
    gc.bfs(bad, 5, 0)
    # The Euler tours, in a block and over the GPU: paths with ids out of range, a cycle and a
    # repeated edge.
    for n in (3_000, 20_000):
        broken = torch.stack([torch.arange(n - 1), torch.arange(1, n)], dim=1)
        broken[5] = torch.tensor([n + 3, -2])
        broken[100] = torch.tensor([7, 3])
        broken[200] = broken[300]
        gc.bfs(broken[None].cuda(), n, 0)
    # Borůvka leaves out edges with ids out of range: a path broken in two (so no tree), its
    # edges in shared memory (50 vertices) or over the GPU (20 000).
    for n in (50, 20_000):
        path = torch.stack([torch.arange(n - 1), torch.arange(1, n)], dim=1)
        path[3] = torch.tensor([n + 7, -3])
        gc.minimum_spanning_tree(path.cuda(), torch.rand(1, n - 1, device="cuda"), n)
    # A path of 500 vertices in shuffled order, no BFS: the band scan's sweeps must stay in bounds.
    order = torch.randperm(500, device="cuda")[None]
    parent = torch.arange(-1, 499, device="cuda")[None]
    x = torch.randn(1, 500, 37, device="cuda").transpose(1, 2)
    gc.tree_scan(x, torch.rand_like(x), gc.BFS(order, parent))
    # The same path of 60 vertices with a vertex repeated: the channel walk must stay in bounds.
    order = torch.randperm(60, device="cuda")[None]
    order[0, 7] = order[0, 30]
    x = torch.randn(1, 60, 37, device="cuda").transpose(1, 2)
    for mode in ("all", "root"):
        gc.tree_scan(x, torch.rand_like(x), gc.BFS(order, parent[:, :60]), mode)
        torch.ops.groot.tree_scan_backward(x, x, torch.rand_like(x), order, parent[:, :60], mode)
    order = torch.tensor([[3, 9, -4, 0, 1]], device="cuda")
    parent = torch.tensor([[2, -1, 8, 6, 0]], device="cuda")
    for x in (torch.randn(1, 2, 5, device="cuda"), torch.randn(1, 5, 2, device="cuda").transpose(1, 2)):
        gc.tree_scan(x, torch.rand_like(x), gc.BFS(order, parent))


if __name__ == "__main__":
    main()
