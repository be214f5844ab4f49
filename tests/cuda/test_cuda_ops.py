"""The CUDA kernels against the CPU core (itself tested against brute force in tests/core).

Marked ``cuda``: skipped only when no GPU is visible. Run on a GPU machine with
``pytest tests/cuda``; the GPU suite also runs under compute-sanitizer (memcheck, racecheck,
initcheck).
"""

from __future__ import annotations

from types import SimpleNamespace

import groot_core as gc
import pytest
import torch
from shaped_trees import spider, star

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible"),
]

GRIDS = [(1, 1), (1, 9), (9, 1), (7, 5), (16, 16), (23, 31), (56, 56)]
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 5e-3}


def poison_allocator() -> None:
    """Leave NaN in the caching allocator's free blocks, so unwritten outputs show up."""
    junk = torch.full((64 << 20,), float("nan"), device="cuda")
    del junk


def random_tree(batch: int, height: int, width: int, device: str, dtype=torch.float32) -> gc.BFS:
    guide = torch.randn(batch, 4, height, width, device=device, dtype=dtype)
    return gc.grid_tree(guide)


def laid_out(t: torch.Tensor, layout: str) -> torch.Tensor:
    """t with (B, D, L) memory ("contiguous") or token-major (B, L, D) memory ("channels_last")."""
    return t.transpose(1, 2).contiguous().transpose(1, 2) if layout == "channels_last" else t.contiguous()


LAYOUTS = ["contiguous", "channels_last"]


def relative_error(result: torch.Tensor, expected: torch.Tensor) -> float:
    result, expected = result.double(), expected.double()
    return ((result - expected).norm() / expected.norm().clamp_min(1e-300)).item()


@pytest.mark.parametrize("shape", GRIDS)
def test_edges_match_cpu(shape):
    h, w = shape
    assert torch.equal(gc.grid_edges(h, w, device="cuda").cpu(), gc.grid_edges(h, w))
    for n, k in [(1, 3), (2, 3), (50, 3), (50, 1), (7, 9)]:
        assert torch.equal(gc.sequence_edges(n, k, device="cuda").cpu(), gc.sequence_edges(n, k))


# Channels-last rows are read 16 bytes a lane where they allow it, by 8 lanes an item up to 64 such
# loads and 32 lanes above: 20 channels of 2 bytes allow no such load (element by element), 20 and
# 64 channels otherwise take 8 lanes, and 640 take 32 in every dtype.
@pytest.mark.parametrize("channels", [20, 64, 640])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("metric", ["cosine", "l1", "l2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_edge_weights_match_cpu(metric, dtype, layout, channels):
    features = torch.randn(3, channels, 13 * 11, dtype=dtype)
    edges = gc.grid_edges(13, 11)
    poison_allocator()
    result = gc.edge_weights(laid_out(features.cuda(), layout), edges.cuda(), metric)
    expected = gc.edge_weights(features, edges, metric)
    assert result.dtype == expected.dtype
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    assert relative_error(result.cpu(), expected) < tolerance


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_edge_weights_of_rows_off_a_16_byte_boundary(dtype):
    # A channels-last view one element into its storage: rows of 64 channels would allow 16-byte
    # loads, but their start does not, so the kernel must read them element by element.
    batch, channels, h, w = 2, 64, 9, 7
    storage = torch.randn(batch * h * w * channels + 1, dtype=dtype, device="cuda")
    features = storage[1:].view(batch, h * w, channels).transpose(1, 2)
    assert features.data_ptr() % 16 != 0
    edges = gc.grid_edges(h, w, device="cuda")
    for metric in ("cosine", "l2"):
        expected = gc.edge_weights(features.cpu(), edges.cpu(), metric)
        assert relative_error(gc.edge_weights(features, edges, metric).cpu(), expected) < 1e-5


def test_edge_weights_of_per_graph_edges_with_ids_out_of_range():
    # Each graph its own edges; an edge with an id outside [0, L) weighs 0 on the device (which
    # cannot stop to reject it), and the others are as on the CPU.
    batch, channels, vertices = 3, 64, 40
    features = laid_out(torch.randn(batch, channels, vertices, device="cuda"), "channels_last")
    edges = torch.randint(0, vertices, (batch, 90, 2), device="cuda")
    bad = torch.zeros(batch, 90, dtype=torch.bool, device="cuda")
    bad[:, ::7] = True
    spoiled = edges.clone()
    spoiled[:, ::7, 1] = torch.tensor([vertices, -1, 2**40], device="cuda").repeat(5)[:13]
    result = gc.edge_weights(features, spoiled)
    expected = gc.edge_weights(features.cpu(), edges.cpu())
    assert torch.all(result[bad] == 0)
    assert relative_error(result[~bad].cpu(), expected[~bad.cpu()]) < 1e-5


@pytest.mark.parametrize("shape", GRIDS)
@pytest.mark.parametrize("ties", [False, True])
def test_minimum_spanning_tree_is_identical(shape, ties):
    h, w = shape
    edges = gc.grid_edges(h, w)
    weights = torch.rand(4, edges.shape[0])
    if ties:
        # Three distinct values, -0.0 and +0.0 being one: the edge-index rule decides.
        weights = (weights * 3).floor() - 1
        weights[:, ::3] = -weights[:, ::3]
    poison_allocator()
    result = gc.minimum_spanning_tree(edges.cuda(), weights.cuda(), h * w)
    assert torch.equal(result.cpu(), gc.minimum_spanning_tree(edges, weights, h * w))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape", [(1, 100, 60), (2, 200, 180), (16, 90, 90), (16, 130, 130)])
def test_minimum_spanning_tree_of_large_graphs(shape, ties, dtype):
    # Too few graphs to give every multiprocessor one: the rounds run over the whole GPU. Sixteen
    # of 8 100 vertices: a block per graph, its components in shared memory but not its edges;
    # sixteen of 16 900: not even its components. (Smaller graphs keep both on chip.)
    b, h, w = shape
    edges = gc.grid_edges(h, w)
    weights = torch.rand(b, edges.shape[0], dtype=dtype)
    if ties:
        weights = (weights * 4).floor()
    poison_allocator()
    result = gc.minimum_spanning_tree(edges.cuda(), weights.cuda(), h * w)
    assert torch.equal(result.cpu(), gc.minimum_spanning_tree(edges, weights, h * w))
    per_graph = edges.expand(b, -1, -1).contiguous()
    assert torch.equal(gc.minimum_spanning_tree(per_graph.cuda(), weights.cuda(), h * w).cpu(), result.cpu())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("batch", "h", "w"), [(3, 9, 13), (1, 50, 84), (1, 200, 180)])
def test_minimum_spanning_tree_ignores_edges_out_of_range(batch, h, w, dtype):
    # The device cannot stop to reject an id out of range, so such an edge is left out: the tree
    # is the CPU's over the other edges, whether the edges sit in shared memory (float weights,
    # small graphs), in global memory, or the graph spans the GPU (200x180). Ids of 2^31 and up
    # must not pass as their low 32 bits (2^32 + 3 as vertex 3).
    edges = gc.grid_edges(h, w)
    weights = torch.rand(batch, edges.shape[0], dtype=dtype)
    broken = edges.clone()
    count = edges.shape[0]
    bad = torch.tensor([1, count // 3, count // 2, count * 2 // 3, count - 1])
    broken[bad] = torch.tensor([[h * w, 0], [2**32 + 3, 5], [-1, 3], [7, 2**31], [2, h * w + 70_000]])
    keep = torch.ones(count, dtype=torch.bool)
    keep[bad] = False
    poison_allocator()
    result = gc.minimum_spanning_tree(broken.cuda(), weights.cuda(), h * w)
    assert torch.equal(result.cpu(), gc.minimum_spanning_tree(edges[keep], weights[:, keep], h * w))


def test_minimum_spanning_tree_per_graph_edges_and_float64():
    edges = torch.stack([gc.sequence_edges(40, 3)[torch.randperm(111)] for _ in range(3)])
    weights = torch.rand(3, 111, dtype=torch.float64)
    result = gc.minimum_spanning_tree(edges.cuda(), weights.cuda(), 40)
    assert torch.equal(result.cpu(), gc.minimum_spanning_tree(edges, weights, 40))


@pytest.mark.parametrize("shape", GRIDS)
def test_bfs_is_identical(shape):
    h, w = shape
    edges = gc.grid_edges(h, w)
    tree = gc.minimum_spanning_tree(edges, torch.rand(3, edges.shape[0]), h * w)
    for root in {0, h * w // 2, h * w - 1}:
        poison_allocator()
        result = gc.bfs(tree.cuda(), h * w, root)
        expected = gc.bfs(tree, h * w, root)
        assert torch.equal(result.order.cpu(), expected.order)
        assert torch.equal(result.parent.cpu(), expected.parent)


# The Euler tour in one block's shared memory; a tree that would not fit there.
@pytest.mark.parametrize("n", [1500, 3000, 20000])
def test_bfs_of_a_star_and_a_path(n):
    star_edges = torch.stack([torch.zeros(n - 1, dtype=torch.long), torch.arange(1, n)], dim=1)[None]
    path_edges = torch.stack([torch.arange(n - 1), torch.arange(1, n)], dim=1)[None]
    for edges in (star_edges, path_edges):
        result = gc.bfs(edges.cuda(), n, 7)
        expected = gc.bfs(edges, n, 7)
        assert torch.equal(result.order.cpu(), expected.order)
        assert torch.equal(result.parent.cpu(), expected.parent)


def test_bfs_of_many_trees():
    # A classification batch: a block per tree, all at once.
    edges = gc.grid_edges(56, 56)
    tree = gc.minimum_spanning_tree(edges, torch.rand(96, edges.shape[0]), 56 * 56)
    poison_allocator()
    result = gc.bfs(tree.cuda(), 56 * 56, 1000)
    expected = gc.bfs(tree, 56 * 56, 1000)
    assert torch.equal(result.order.cpu(), expected.order)
    assert torch.equal(result.parent.cpu(), expected.parent)


def test_bfs_of_a_large_tree():
    # Dense prediction's size (over 65 536 vertices).
    h, w = 300, 230
    edges = gc.grid_edges(h, w)
    tree = gc.minimum_spanning_tree(edges, torch.rand(2, edges.shape[0]), h * w)
    poison_allocator()
    result = gc.bfs(tree.cuda(), h * w, h * w // 2)
    expected = gc.bfs(tree, h * w, h * w // 2)
    assert torch.equal(result.order.cpu(), expected.order)
    assert torch.equal(result.parent.cpu(), expected.parent)


def _random_tree(n: int, generator: torch.Generator) -> torch.Tensor:
    """Edges of a random tree on n vertices, each vertex below an earlier one: mostly one of the
    last three (long paths), else any (bushy parts) or one of four hubs (high degree); under
    random labels, in random order and direction."""
    child = torch.arange(1, n)
    kind = torch.rand(n - 1, generator=generator)
    recent = (child - 1 - torch.randint(0, 3, (n - 1,), generator=generator)).clamp(min=0)
    anywhere = (torch.rand(n - 1, generator=generator) * child).long()
    hub = torch.minimum(torch.randint(0, 4, (n - 1,), generator=generator), child - 1)
    parent = torch.where(kind < 0.7, recent, torch.where(kind < 0.9, anywhere, hub))
    labels = torch.randperm(n, generator=generator)
    edges = labels[torch.stack([child, parent], dim=1)][torch.randperm(n - 1, generator=generator)]
    flip = torch.rand(n - 1, generator=generator) < 0.5
    edges[flip] = edges[flip].flip(1)
    return edges


# The Euler tour in one block (up to its 5 120-vertex bound), and over the whole GPU.
@pytest.mark.parametrize("n", [700, 5120, 30_000])
def test_bfs_of_random_trees(n):
    generator = torch.Generator().manual_seed(n)
    trees = torch.stack([_random_tree(n, generator) for _ in range(3)])
    for root in (0, n // 2 - 1, n - 1):
        poison_allocator()
        result = gc.bfs(trees.cuda(), n, root)
        expected = gc.bfs(trees, n, root)
        assert torch.equal(result.order.cpu(), expected.order)
        assert torch.equal(result.parent.cpu(), expected.parent)


# Token-major rows: 37 channels take a lane each (a full and a partial tile of 32), 40 take a lane
# per pair of channels, with a partial tile of four lanes a vertex.
@pytest.mark.parametrize(
    ("layout", "channels"), [("contiguous", 5), ("channels_last", 37), ("channels_last", 40)], ids=str
)
@pytest.mark.parametrize("mode", ["all", "root"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", GRIDS)
def test_scan_matches_cpu(layout, channels, mode, dtype, shape):
    h, w = shape
    tree = random_tree(2, h, w, "cpu")
    x = torch.randn(2, channels, h * w, dtype=dtype)
    decay = torch.rand(2, channels, h * w, dtype=dtype) * 0.9 + 0.05
    grad = torch.randn(2, channels, h * w, dtype=dtype)
    expected = gc.tree_scan(x.double(), decay.double(), tree, mode)
    expected_gx, expected_gd = torch.ops.groot.tree_scan_backward(
        grad.double(), x.double(), decay.double(), tree.order, tree.parent, mode
    )
    cuda_tree = gc.BFS(tree.order.cuda(), tree.parent.cuda())
    x, decay, grad = (laid_out(t.cuda(), layout) for t in (x, decay, grad))
    poison_allocator()
    y = gc.tree_scan(x, decay, cuda_tree, mode)
    gx, gd = torch.ops.groot.tree_scan_backward(grad, x, decay, cuda_tree.order, cuda_tree.parent, mode)
    assert y.dtype == gx.dtype == gd.dtype == dtype
    for result, reference in [(y, expected), (gx, expected_gx), (gd, expected_gd)]:
        assert result.stride() == x.stride()
        assert torch.isfinite(result).all()
        assert relative_error(result.cpu(), reference) < TOLERANCE[dtype]


@pytest.mark.parametrize("mode", ["all", "root"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("offset", [1, 2, 3])
@pytest.mark.parametrize(("batch", "h", "w"), [(2, 7, 7), (3, 11, 13), (9, 40, 40)])
def test_scan_of_token_major_rows_at_an_unaligned_address(mode, dtype, offset, batch, h, w):
    # A lane per pair of channels reads the pair as one vector access; rows that start an odd
    # number of elements into their storage are not aligned for it and take a lane per channel.
    # Either way the results are the same, bit for bit. 7x7 trees take the channel walk, a thread a
    # channel at any alignment. Under 192 vertices the `all` scan takes the
    # level walk, as `root` always does; at 40x40 it runs in depth bands (18 blocks of 8 warps),
    # whose sweeps and finish take four channels a lane where the rows are aligned for that (the
    # aligned run) and pairs or single channels at the offsets.
    channels = 64
    tree = random_tree(batch, h, w, "cpu")
    x, decay, grad = (torch.randn(batch, channels, h * w, dtype=torch.float64) for _ in range(3))
    decay = decay.sigmoid() * 0.98
    expected = [gc.tree_scan(x, decay, tree, mode)]
    expected += torch.ops.groot.tree_scan_backward(grad, x, decay, tree.order, tree.parent, mode)
    cuda_tree = gc.BFS(tree.order.cuda(), tree.parent.cuda())

    def run(start: int) -> list[torch.Tensor]:
        def placed(t: torch.Tensor) -> torch.Tensor:
            storage = torch.empty(t.numel() + start, dtype=dtype, device="cuda")
            rows = storage[start:].view(batch, h * w, channels)
            rows.copy_(t.transpose(1, 2))
            return rows.transpose(1, 2)

        x_, decay_, grad_ = (placed(t) for t in (x, decay, grad))
        poison_allocator()
        order, parent = cuda_tree
        return [
            gc.tree_scan(x_, decay_, cuda_tree, mode),
            *torch.ops.groot.tree_scan_backward(grad_, x_, decay_, order, parent, mode),
        ]

    for result, aligned, reference in zip(run(offset), run(0), expected, strict=True):
        assert torch.equal(result, aligned)
        assert relative_error(result.cpu(), reference) < TOLERANCE[dtype]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", ["all", "root"])
def test_scan_beyond_65536_vertices(layout, mode):
    h, w = 300, 251  # 75 300 vertices: rows exceed shared memory and use the workspace
    tree = random_tree(1, h, w, "cuda")
    x = laid_out(torch.randn(1, 3, h * w, device="cuda"), layout)
    decay = laid_out(torch.rand(1, 3, h * w, device="cuda"), layout)
    cpu_tree = gc.BFS(tree.order.cpu(), tree.parent.cpu())
    expected = gc.tree_scan(x.cpu().double(), decay.cpu().double(), cpu_tree, mode)
    assert relative_error(gc.tree_scan(x, decay, tree, mode).cpu(), expected) < 1e-5
    cpu_built = gc.grid_tree(torch.randn(1, 2, h, w))
    gpu_built = gc.grid_tree(torch.randn(1, 2, h, w).cuda())
    assert gpu_built.order.shape == cpu_built.order.shape


@pytest.mark.parametrize("mode", ["all", "root"])
@pytest.mark.parametrize("shape", [(1, 32_765), (1, 32_767), (181, 181), (182, 181)])
def test_scan_at_the_bound_of_a_staged_schedule(mode, shape):
    # The token-major level walk copies schedules of trees under 2^15 vertices into shared memory
    # as 16-bit ints; a path (1-wide grid) puts the largest positions and level starts there.
    h, w = shape
    tree = random_tree(1, h, w, "cuda")
    x = laid_out(torch.randn(1, 40, h * w, device="cuda"), "channels_last")
    decay = laid_out(torch.rand(1, 40, h * w, device="cuda") * 0.9 + 0.05, "channels_last")
    grad = laid_out(torch.randn(1, 40, h * w, device="cuda"), "channels_last")
    cpu_x, cpu_decay, cpu_grad = (t.cpu().double() for t in (x, decay, grad))
    order, parent = tree.order.cpu(), tree.parent.cpu()
    expected = [gc.tree_scan(cpu_x, cpu_decay, gc.BFS(order, parent), mode)]
    expected += torch.ops.groot.tree_scan_backward(cpu_grad, cpu_x, cpu_decay, order, parent, mode)
    poison_allocator()
    results = [gc.tree_scan(x, decay, tree, mode)]
    results += torch.ops.groot.tree_scan_backward(grad, x, decay, tree.order, tree.parent, mode)
    for result, reference in zip(results, expected, strict=True):
        assert relative_error(result.cpu(), reference) < 1e-5


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", ["all", "root"])
def test_scan_of_a_star_wider_than_16_bits(layout, mode):
    # The scan schedule keeps each position's queue ahead in 16 bits of shared memory; a star of
    # 70 000 vertices has 69 999 in the queue at the root and must take the global-memory path.
    # Its one depth band is also too wide for a band block's slice of the schedule.
    n = 70_000
    x, decay = torch.randn(1, 3, n, dtype=torch.float64), torch.rand(1, 3, n, dtype=torch.float64)
    expected = gc.tree_scan(x, decay, star(n), mode)
    cuda_star = star(n, "cuda")
    x, decay = (laid_out(t.to("cuda", torch.float32), layout) for t in (x, decay))
    poison_allocator()
    # The root sums 70 000 float32 terms one after another: rounding grows like sqrt(n) * 6e-8,
    # ~1.6e-5, and every leaf inherits it (1e-5 failed now and then).
    assert relative_error(gc.tree_scan(x, decay, cuda_star, mode).cpu(), expected) < 1e-4


def assert_six_channel_scan_matches_cpu(tree: gc.BFS, mode: str) -> None:
    """The GPU scan of token-major rows of six channels on ``tree`` (a CPU one), forward and
    backward, against the CPU core in float64."""
    n = tree.order.shape[1]
    x, decay, grad = torch.randn(1, 6, n), torch.rand(1, 6, n) * 0.9 + 0.05, torch.randn(1, 6, n)
    expected = [gc.tree_scan(x.double(), decay.double(), tree, mode)]
    expected += torch.ops.groot.tree_scan_backward(
        grad.double(), x.double(), decay.double(), tree.order, tree.parent, mode
    )
    cuda_tree = gc.BFS(tree.order.cuda(), tree.parent.cuda())
    x, decay, grad = (laid_out(t.cuda(), "channels_last") for t in (x, decay, grad))
    poison_allocator()
    results = [gc.tree_scan(x, decay, cuda_tree, mode)]
    results += torch.ops.groot.tree_scan_backward(grad, x, decay, cuda_tree.order, cuda_tree.parent, mode)
    for result, reference in zip(results, expected, strict=True):
        assert relative_error(result.cpu(), reference) < 1e-5


@pytest.mark.parametrize("mode", ["all", "root"])
@pytest.mark.parametrize(
    ("legs", "length"),
    [(10_000, 8), (3, 30_000), (2, 6_000), (5, 2_002), (500, 400), (6_000, 140)],
    ids=str,
)
def test_scan_of_a_spider(mode, legs, length):
    # The schedule's level starts come by jumps of 8 levels where each position's children come
    # after it: 30 001 and 6 001 levels (a jump short at the end, in shared memory as 16-bit
    # offsets and as ints); 10 000 legs make a jump of 8 levels wider than 16 bits (one level at a time).
    # The band scan's chains copy the levels where bands meet into shared memory (883 bands of 34
    # levels at 3 x 30 000), and their values too where those fit: not for 500 legs of 400 (ten
    # bands of 43 levels, 500 wide). 6 000 legs of 140 give three bands of 66 levels whose tops and
    # bottoms hold 6 000 positions each, too many even for the lists: the chains read the workspace.
    assert_six_channel_scan_matches_cpu(spider(legs, length), mode)


SMALL_TREES = {
    "grid 3 x 7x7": lambda: random_tree(3, 7, 7, "cpu"),
    "star 128": lambda: star(128),
    "star 129": lambda: star(129),
    "spider 3 x 21": lambda: spider(3, 21),
    "broom 4 x 10 under 5": lambda: spider(4, 10, handle=5),
}


@pytest.mark.parametrize("mode", ["all", "root"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("tree", SMALL_TREES)
def test_channel_walk_of_small_trees(mode, dtype, tree):
    # Token-major rows of small trees take the channel walk (channel_walk.cuh) where a channel's
    # values fit in 512 bytes: up to 128 vertices in float32 (64 in the `all` backward, which keeps
    # two rows), half that in float64. The trees sit at and past those bounds: a star of 128 (129)
    # vertices is walked forward in float32 (not); a spider of 64 is walked in every float32 pass.
    # 300 channels make two blocks of 128 threads and a partial one.
    tree = SMALL_TREES[tree]()
    batch, n = tree.order.shape
    x, decay, grad = (torch.randn(batch, 300, n, dtype=torch.float64) for _ in range(3))
    decay = decay.sigmoid() * 0.98
    expected = [gc.tree_scan(x, decay, tree, mode)]
    expected += torch.ops.groot.tree_scan_backward(grad, x, decay, tree.order, tree.parent, mode)
    cuda_tree = gc.BFS(tree.order.cuda(), tree.parent.cuda())
    x, decay, grad = (laid_out(t.to("cuda", dtype), "channels_last") for t in (x, decay, grad))
    poison_allocator()
    results = [gc.tree_scan(x, decay, cuda_tree, mode)]
    results += torch.ops.groot.tree_scan_backward(grad, x, decay, cuda_tree.order, cuda_tree.parent, mode)
    for result, reference in zip(results, expected, strict=True):
        assert result.stride() == x.stride()
        assert relative_error(result.cpu(), reference) < TOLERANCE[dtype]


@pytest.mark.parametrize("handle", range(20, 60, 3))
def test_band_scan_of_a_broom(handle):
    # The band sweeps reach a band's bottom by walking each bottom vertex's path up the band, unless
    # the bottom level is far wider than the band above it: then they pass over its levels. 200 legs
    # of 60 hanging from a handle put the fan at every place of a band (~18 levels at this size):
    # near a band's bottom the levels are passed over, elsewhere walked. A band of the fan holds
    # ~3 600 positions, a slice of ~43 KB: staged only because one sample's blocks have 32 warps
    # (band_slice_bytes: 24 KB for blocks of 8).
    assert_six_channel_scan_matches_cpu(spider(200, 60, handle=handle), "all")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize(("batch", "channels"), [(2, 37), (2, 38), (9, 64), (9, 36)])
@pytest.mark.parametrize(("h", "w"), [(120, 90), (60, 70), (1, 6143)])
def test_band_scan_of_a_deep_tree(dtype, batch, channels, h, w):
    # Few channel blocks and a deep tree: the token-major `all` scan runs in depth bands
    # (band_scan.cuh), its sweeps with a lane per channel (37) or per pair (38, blocks of 32 warps:
    # the forward's), or four channels a lane (9 samples: 18 blocks of 8 warps, the backward's too;
    # 36 channels leave a second tile of one lane's four). The sweeps copy each band's
    # slice of the schedule into shared memory (the path's blocks walk several bands each); the
    # chains copy the levels where bands meet. Forward and backward against the CPU core in float64,
    # twice, bit for bit.
    tree = random_tree(batch, h, w, "cpu")
    x, decay, grad = (torch.randn(batch, channels, h * w, dtype=torch.float64) for _ in range(3))
    decay = decay.sigmoid() * 0.98
    expected = [gc.tree_scan(x, decay, tree)]
    expected += torch.ops.groot.tree_scan_backward(grad, x, decay, tree.order, tree.parent, "all")
    cuda_tree = gc.BFS(tree.order.cuda(), tree.parent.cuda())
    x, decay, grad = (laid_out(t.to("cuda", dtype), "channels_last") for t in (x, decay, grad))

    def run():
        poison_allocator()
        y = gc.tree_scan(x, decay, cuda_tree)
        order, parent = cuda_tree
        return [y, *torch.ops.groot.tree_scan_backward(grad, x, decay, order, parent, "all")]

    first, second = run(), run()
    for result, again, reference in zip(first, second, expected, strict=True):
        assert torch.equal(result, again)
        assert relative_error(result.cpu(), reference) < TOLERANCE[dtype]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", ["all", "root"])
def test_gradcheck_on_gpu(layout, mode):
    tree = random_tree(2, 4, 5, "cuda")
    x = laid_out(torch.randn(2, 3, 20, device="cuda", dtype=torch.float64), layout).requires_grad_()
    decay = laid_out(torch.rand(2, 3, 20, device="cuda", dtype=torch.float64) * 0.9, layout).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: gc.tree_scan(a, b, tree, mode), (x, decay))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_repeated_runs_are_bit_identical_and_inputs_untouched(layout):
    guide = torch.randn(4, 16, 28, 28, device="cuda")
    x = laid_out(torch.randn(4, 64, 784, device="cuda"), layout).requires_grad_()
    decay = laid_out(torch.rand(4, 64, 784, device="cuda"), layout).requires_grad_()
    copies = [t.detach().clone() for t in (guide, x, decay)]

    def run():
        tree = gc.grid_tree(guide)
        y = gc.tree_scan(x, decay, tree)
        gx, gd = torch.autograd.grad(y.square().sum(), (x, decay))
        return [tree.order, tree.parent, y, gx, gd]

    first, second = run(), run()
    for a, b in zip(first, second, strict=False):
        assert torch.equal(a, b)
    for original, copy in zip((guide, x, decay), copies, strict=False):
        assert torch.equal(original.detach(), copy)


def tree_block(guide: torch.Tensor, x: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
    return gc.tree_scan(x, decay, gc.grid_tree(guide))


def test_compile_fullgraph_on_gpu():
    guide = torch.randn(2, 8, 14, 14, device="cuda")
    x = torch.randn(2, 32, 196, device="cuda", requires_grad=True)
    decay = torch.rand(2, 32, 196, device="cuda")
    compiled = torch.compile(tree_block, fullgraph=True, backend="aot_eager")
    result = compiled(guide, x, decay)
    assert torch.equal(result, tree_block(guide, x, decay))
    result.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# Many small graphs, and one large graph (the MST's cooperative launch, the Euler-tour BFS, bands);
# token-major rows of 7x7 trees take the channel walk.
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("batch, side", [(2, 28), (1, 96), (4, 7)])
def test_cuda_graph_capture_of_tree_build_and_scan(layout, batch, side):
    guide = torch.randn(batch, 8, side, side, device="cuda")
    x = laid_out(torch.randn(batch, 32, side * side, device="cuda"), layout)
    decay = laid_out(torch.rand(batch, 32, side * side, device="cuda"), layout)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        tree_block(guide, x, decay)  # warm-up outside capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = tree_block(guide, x, decay)
    guide.copy_(torch.randn_like(guide))
    x.copy_(torch.randn_like(x))
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(captured, tree_block(guide, x, decay))


# Bad CUDA arguments raise like bad CPU ones (tests/core/test_bad_inputs.py): a ValueError whose
# message arrives whole. A module built with a private C++ runtime crashed on the first of these.
BAD_CUDA_CALLS = {
    "scan x rank": (lambda t: gc.tree_scan(t.x[0], t.decay[0], t.schedule), r"x must have shape \(B, D, L\)"),
    "scan mixed dtypes": (
        lambda t: gc.tree_scan(t.x, t.decay.double(), t.schedule),
        "decay must have the dtype of x",
    ),
    "scan schedule on the CPU": (
        lambda t: gc.tree_scan(t.x, t.decay, gc.BFS(*(s.cpu() for s in t.schedule))),
        "is on cpu but",
    ),
    "backward grad_y shape": (
        lambda t: torch.ops.groot.tree_scan_backward(t.x[:, :2], t.x, t.decay, *t.schedule, "all"),
        "grad_y must have the shape of x",
    ),
    "weights features rank": (
        lambda t: gc.edge_weights(t.x[0], t.edges),
        r"features must have shape \(B, C, L\), got 2 dimensions \[3, 6\]",
    ),
    "weights unknown metric": (lambda t: gc.edge_weights(t.x, t.edges, "cos"), "metric must be"),
    "mst edge count": (
        lambda t: gc.minimum_spanning_tree(t.edges, torch.rand(2, 6, device="cuda"), 6),
        "edges lists 7 edges but weights has 6",
    ),
    "bfs tree rank": (lambda t: gc.bfs(t.tree[0], 6), "tree must have shape"),
}


@pytest.fixture
def good_cuda_arguments() -> SimpleNamespace:
    """Valid arguments for 2 samples of a 2×3 grid, 3 channels, that each bad call spoils."""
    edges = gc.grid_edges(2, 3, device="cuda")
    return SimpleNamespace(
        x=torch.randn(2, 3, 6, device="cuda"),
        decay=torch.rand(2, 3, 6, device="cuda"),
        edges=edges,
        schedule=gc.grid_tree(torch.randn(2, 4, 2, 3, device="cuda")),
        tree=gc.minimum_spanning_tree(edges, torch.rand(2, len(edges), device="cuda"), 6),
    )


@pytest.mark.parametrize("case", BAD_CUDA_CALLS)
def test_bad_cuda_arguments_raise(case, good_cuda_arguments):
    call, message = BAD_CUDA_CALLS[case]
    with pytest.raises(ValueError, match=message):
        call(good_cuda_arguments)
