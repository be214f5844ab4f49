"""Bad inputs raise a ValueError whose message names the argument; none crashes the process.

Checks of shapes, dtypes and strings run in-process. Bad *contents* (vertex ids out of range,
inconsistent schedules, disconnected graphs, NaN weights) are where an unchecked kernel would read
or write out of bounds, so they run in one child process: each case reports its exception as a
JSON line, and a crash shows as a signal and the missing lines.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import groot_core as gc
import groot_core.numpy as gnp
import numpy as np
import pytest
import torch

L = 6
X = torch.randn(2, 3, L)
DECAY = torch.rand(2, 3, L)
EDGES = gc.grid_edges(2, 3)
TREE = gc.minimum_spanning_tree(EDGES, torch.rand(2, len(EDGES)), L)
SCHEDULE = gc.bfs(TREE, L)
LONG = torch.int64

SHAPE_AND_TYPE_CASES = {
    "scan x rank": (lambda: gc.tree_scan(X[0], DECAY[0], SCHEDULE), "x must have shape"),
    "scan decay batch": (lambda: gc.tree_scan(X, DECAY[:1], SCHEDULE), "decay must have the shape of x"),
    "scan decay channels": (
        lambda: gc.tree_scan(X, DECAY[:, :2], SCHEDULE),
        "decay must have the shape of x",
    ),
    "scan decay vertices": (
        lambda: gc.tree_scan(X, DECAY[..., :5], SCHEDULE),
        "decay must have the shape of x",
    ),
    "scan integer x": (lambda: gc.tree_scan(X.long(), DECAY, SCHEDULE), "x must be a floating-point"),
    "scan integer decay": (lambda: gc.tree_scan(X, DECAY.long(), SCHEDULE), "decay must be a floating-point"),
    "scan mixed dtypes": (
        lambda: gc.tree_scan(X, DECAY.double(), SCHEDULE),
        "decay must have the dtype of x",
    ),
    "scan zero vertices": (
        lambda: gc.tree_scan(
            X[..., :0], DECAY[..., :0], gc.BFS(SCHEDULE.order[:, :0], SCHEDULE.parent[:, :0])
        ),
        r"x must have at least one vertex",
    ),
    "scan zero vertices, tree edges": (
        lambda: gc.tree_scan(X[..., :0], DECAY[..., :0], torch.zeros(2, 0, 2, dtype=LONG)),
        r"\bx\b",
    ),
    "scan order batch": (
        lambda: gc.tree_scan(X, DECAY, gc.BFS(SCHEDULE.order[:1], SCHEDULE.parent[:1])),
        "order must have shape",
    ),
    "scan parent vertices": (
        lambda: gc.tree_scan(X, DECAY, gc.BFS(SCHEDULE.order, SCHEDULE.parent[:, :5])),
        "parent must have shape",
    ),
    "scan float order": (
        lambda: gc.tree_scan(X, DECAY, gc.BFS(SCHEDULE.order.float(), SCHEDULE.parent)),
        "order must be an integer",
    ),
    "scan unknown mode": (lambda: gc.tree_scan(X, DECAY, SCHEDULE, "both"), "mode must be 'all' or 'root'"),
    "scan tree edge count": (lambda: gc.tree_scan(X, DECAY, TREE[:, :4]), "tree must have shape"),
    "backward grad_y shape": (
        lambda: torch.ops.groot.tree_scan_backward(X[:, :2], X, DECAY, *SCHEDULE, "all"),
        "grad_y must have the shape of x",
    ),
    "backward unknown mode": (
        lambda: torch.ops.groot.tree_scan_backward(X, X, DECAY, *SCHEDULE, "leaves"),
        "mode must be 'all' or 'root'",
    ),
    "weights features rank": (lambda: gc.edge_weights(X[0], EDGES), "features must have shape"),
    "weights integer features": (
        lambda: gc.edge_weights(X.long(), EDGES),
        "features must be a floating-point",
    ),
    "weights float edges": (lambda: gc.edge_weights(X, EDGES.float()), "edges must be an integer"),
    "weights edges shape": (lambda: gc.edge_weights(X, EDGES[:, :1]), r"edges must have shape \(E, 2\)"),
    "weights edges batch": (lambda: gc.edge_weights(X, EDGES.expand(3, -1, -1)), "edges has batch 3"),
    "weights unknown metric": (
        lambda: gc.edge_weights(X, EDGES, "cos"),
        "metric must be 'cosine', 'l1' or 'l2'",
    ),
    "mst weights rank": (
        lambda: gc.minimum_spanning_tree(EDGES, torch.rand(7), L),
        "weights must have shape",
    ),
    "mst integer weights": (
        lambda: gc.minimum_spanning_tree(EDGES, torch.ones(2, 7, dtype=LONG), L),
        "weights must be a floating-point",
    ),
    "mst edge count": (
        lambda: gc.minimum_spanning_tree(EDGES, torch.rand(2, 6), L),
        "edges lists 7 edges but weights has 6",
    ),
    "mst bool edges": (
        lambda: gc.minimum_spanning_tree(EDGES.bool(), torch.rand(2, 7), L),
        "edges must be an integer",
    ),
    "mst zero vertices": (
        lambda: gc.minimum_spanning_tree(EDGES[:0], torch.rand(2, 0), 0),
        "num_vertices must be at least 1",
    ),
    "bfs float tree": (lambda: gc.bfs(TREE.float(), L), "tree must be an integer"),
    "bfs tree edge count": (
        lambda: gc.bfs(TREE[:, :4], L),
        r"tree must have shape \(B, num_vertices - 1, 2\)",
    ),
    "bfs tree rank": (lambda: gc.bfs(TREE[0], L), "tree must have shape"),
    "bfs zero vertices": (lambda: gc.bfs(TREE[:, :0], 0), "num_vertices must be at least 1"),
    "grid negative height": (lambda: gc.grid_edges(-1, 3), "height must be non-negative"),
    "sequence negative length": (lambda: gc.sequence_edges(-2, 3), "length must be non-negative"),
    "sequence zero window": (lambda: gc.sequence_edges(5, 0), "window must be at least 1"),
    "grid_tree guide rank": (lambda: gc.grid_tree(torch.randn(2, 3, 4)), "guide must have shape"),
    "grid_tree integer guide": (lambda: gc.grid_tree(torch.ones(1, 2, 3, 3, dtype=LONG)), "guide"),
    "grid_tree unknown metric": (lambda: gc.grid_tree(torch.randn(1, 2, 3, 3), "dot"), "metric must be"),
    "numpy scan x rank": (
        lambda: gnp.tree_scan(X[0].numpy(), DECAY[0].numpy(), TREE.numpy()),
        "x must have shape",
    ),
    "numpy scan unknown mode": (
        lambda: gnp.tree_scan(X.numpy(), DECAY.numpy(), TREE.numpy(), "x"),
        "mode must be 'all' or 'root'",
    ),
    "numpy scan order shape": (
        lambda: gnp.tree_scan(
            X.numpy(), DECAY.numpy(), gnp.BFS(SCHEDULE.order.numpy()[:1], SCHEDULE.parent.numpy())
        ),
        "order",
    ),
    "numpy scan integer x": (
        lambda: gnp.tree_scan(X.long().numpy(), DECAY.numpy(), TREE.numpy()),
        "x must be a floating",
    ),
    "numpy weights unknown metric": (
        lambda: gnp.edge_weights(X.numpy(), EDGES.numpy(), "x"),
        "metric must be",
    ),
    "numpy weights edges batch": (
        lambda: gnp.edge_weights(X.numpy(), np.zeros((3, 7, 2), dtype=np.int64)),
        "edges",
    ),
    "numpy mst zero vertices": (
        lambda: gnp.minimum_spanning_tree(EDGES.numpy()[:0], np.ones((2, 0)), 0),
        "num_vertices",
    ),
    "numpy bfs float tree": (lambda: gnp.bfs(TREE.numpy().astype(float), L), "tree must be an integer"),
    "numpy backward grad_y shape": (
        lambda: gnp.tree_scan_backward(X.numpy()[:, :2], X.numpy(), DECAY.numpy(), TREE.numpy()),
        "grad_y",
    ),
}


@pytest.mark.parametrize("case", SHAPE_AND_TYPE_CASES, ids=str)
def test_shape_and_type_errors(case):
    call, message = SHAPE_AND_TYPE_CASES[case]
    with pytest.raises(ValueError, match=message):
        call()


# Bad contents, as source run in the child process, with their expected messages.
CHILD_PRELUDE = """
import json, sys
import numpy as np
import torch
import groot_core as gc
import groot_core.numpy as gnp
torch.manual_seed(0)
L = 6
x, decay = torch.randn(2, 3, L), torch.rand(2, 3, L)
xn, decay_n = x.numpy(), decay.numpy()
edges = gc.grid_edges(2, 3)
tree = gc.minimum_spanning_tree(edges, torch.rand(2, 7), L)
order, parent = gc.bfs(tree, L, 2)
path = lambda last: torch.tensor([[[0, 1], [1, 2], [2, 3], [3, 4], [4, last]]])
chain_order, chain_parent = torch.arange(L).expand(2, L), torch.arange(-1, L - 1).expand(2, L)
fill = lambda t, column, value: t.index_fill(1, torch.tensor([column]), value)
"""
CONTENT_CASES = {
    "weights edge id = L": ("gc.edge_weights(x, torch.tensor([[0, L]]))", "edges holds vertex id 6"),
    "weights edge id < 0": ("gc.edge_weights(x, torch.tensor([[0, -1]]))", "edges holds vertex id -1"),
    "weights edge id 2^40": ("gc.edge_weights(x, torch.tensor([[2**40, 0]]))", "edges holds vertex id"),
    "mst edge id = L": (
        "gc.minimum_spanning_tree(torch.cat([edges, torch.tensor([[0, L]])]), torch.rand(2, 8), L)",
        "edges holds vertex id",
    ),
    "mst per-graph edge id < 0": (
        "gc.minimum_spanning_tree(torch.stack([edges, edges - 1]), torch.rand(2, 7), L)",
        "edges holds vertex id -1",
    ),
    "mst disconnected": ("gc.minimum_spanning_tree(edges[:3], torch.rand(2, 3), L)", "edges do not connect"),
    "mst no edges": ("gc.minimum_spanning_tree(edges[:0], torch.rand(2, 0), L)", "edges do not connect"),
    "mst NaN weight": (
        "gc.minimum_spanning_tree(edges, fill(torch.rand(2, 7), 3, float('nan')), L)",
        "weights must be finite",
    ),
    "mst inf weight": (
        "gc.minimum_spanning_tree(edges, fill(torch.rand(2, 7), 0, float('-inf')), L)",
        "weights must be finite",
    ),
    "bfs tree id = L": ("gc.bfs(path(L), L)", "tree holds vertex id 6"),
    "bfs tree id < 0": ("gc.bfs(path(-3), L)", "tree holds vertex id -3"),
    "bfs cycle": (
        "gc.bfs(torch.tensor([[[0, 1], [1, 2], [2, 0], [3, 4], [4, 5]]]), L)",
        "tree does not span",
    ),
    "bfs repeated edge": (
        "gc.bfs(torch.tensor([[[0, 1], [1, 0], [1, 2], [2, 3], [3, 4]]]), L)",
        "tree does not span",
    ),
    "bfs root = L": ("gc.bfs(tree, L, L)", "root must be a vertex id"),
    "bfs root < 0": ("gc.bfs(tree, L, -1)", "root must be a vertex id"),
    "scan tree edge id = L": ("gc.tree_scan(x[:1], decay[:1], path(L))", "tree holds vertex id"),
    "scan order repeats a vertex": (
        "gc.tree_scan(x, decay, gc.BFS(torch.cat([order[:, :3], order[:, 2:3], order[:, 4:]], 1), parent))",
        "order is not a permutation",
    ),
    "scan order id = L": (
        "gc.tree_scan(x, decay, gc.BFS(fill(order, 5, L), parent))",
        "order holds vertex id 6",
    ),
    "scan order id < 0": (
        "gc.tree_scan(x, decay, gc.BFS(fill(order, 5, -1), parent))",
        "order holds vertex id -1",
    ),
    "scan parent id = 99": (
        "gc.tree_scan(x, decay, gc.BFS(order, parent.masked_fill(parent >= 0, 99)))",
        "parent holds vertex id 99",
    ),
    "scan two roots": (
        "gc.tree_scan(x, decay, gc.BFS(chain_order, fill(chain_parent, 3, -1)))",
        "parent holds vertex id -1",
    ),
    "scan root has a parent": (
        "gc.tree_scan(x, decay, gc.BFS(order, parent.clamp_min(0)))",
        "parent of the root",
    ),
    "scan child before parent": (
        "gc.tree_scan(x, decay, gc.BFS(chain_order[:, [0, 2, 1, 3, 4, 5]], chain_parent))",
        "parent.* does not come before its child",
    ),
    "scan reversed order": ("gc.tree_scan(x, decay, gc.BFS(order.flip(1), parent))", "parent of the root"),
    "scan own parent": (
        "gc.tree_scan(x, decay, gc.BFS(chain_order, fill(chain_parent, 3, 3)))",
        "parent.* does not come before its child",
    ),
    "backward inconsistent schedule": (
        "torch.ops.groot.tree_scan_backward(x, x, decay, order.flip(1), parent, 'root')",
        "parent of the root",
    ),
    "numpy bfs tree id = L": ("gnp.bfs(path(L).numpy(), L)", "tree holds vertex id 6"),
    "numpy scan inconsistent schedule": (
        "gnp.tree_scan(xn, decay_n, gnp.BFS(order.flip(1).numpy(), parent.numpy()))",
        "parent of the root",
    ),
    "numpy backward order id = L": (
        "gnp.tree_scan_backward(xn, xn, decay_n, gnp.BFS(fill(order, 5, L).numpy(), parent.numpy()))",
        "order holds vertex id",
    ),
    "numpy mst NaN weight": (
        "gnp.minimum_spanning_tree(edges.numpy(), np.full((2, 7), np.nan), L)",
        "weights must be finite",
    ),
    "numpy weights edge id = L": (
        "gnp.edge_weights(xn, np.array([[0, L]]))",
        "edges holds vertex id 6",
    ),
}
CHILD_LOOP = """
for name, source in json.loads(sys.argv[1]).items():
    try:
        eval(source)
        outcome = {"type": None, "message": ""}
    except Exception as error:
        outcome = {"type": type(error).__name__, "message": str(error)}
    print(json.dumps({"case": name, **outcome}), flush=True)
"""


@pytest.fixture(scope="module")
def child_outcomes():
    """Runs every content case in one child process (importing torch costs seconds)."""
    sources = {name: source for name, (source, _) in CONTENT_CASES.items()}
    run = subprocess.run(
        [sys.executable, "-c", CHILD_PRELUDE + CHILD_LOOP, json.dumps(sources)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    outcomes = {}
    for line in run.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            outcomes[record.pop("case")] = record
    return run, outcomes


@pytest.mark.parametrize("case", CONTENT_CASES, ids=str)
def test_bad_contents_raise_without_crashing(case, child_outcomes):
    run, outcomes = child_outcomes
    assert case in outcomes, (
        f"the child process died (exit status {run.returncode}) before this case:\n{run.stderr[-3000:]}"
    )
    assert outcomes[case]["type"] == "ValueError", outcomes[case]
    assert re.search(CONTENT_CASES[case][1], outcomes[case]["message"]), outcomes[case]["message"]


def test_child_process_exits_cleanly(child_outcomes):
    run, _ = child_outcomes
    assert run.returncode == 0, run.stderr[-3000:]


def test_uncaught_bad_input_exits_with_status_1_and_the_message():
    """Bad input that nobody catches ends Python normally (status 1, traceback), not by a signal."""
    source = CHILD_PRELUDE + "gc.tree_scan(x, decay, gc.BFS(order.flip(1), parent))"
    run = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr[-3000:]
    assert "ValueError: parent of the root" in run.stderr
