"""groot_core.grid_edges and sequence_edges: exactly the documented edge lists."""

from __future__ import annotations

import groot_core as gc
import pytest
import torch
from brute_force import grid_edges, sequence_edges


@pytest.mark.parametrize("grid", [(0, 0), (0, 4), (4, 0), (1, 1), (1, 9), (9, 1), (2, 2), (7, 5), (56, 56)])
def test_grid_edges_order(grid):
    height, width = grid
    result = gc.grid_edges(height, width)
    assert result.dtype == torch.int64 and result.shape == (
        max(0, (height - 1) * width + height * (width - 1)),
        2,
    )
    assert torch.equal(result, grid_edges(height, width))
    assert torch.equal(gc.grid_edges(height, width, device="cpu"), result)


def test_grid_edges_small_case_literally():
    # 2×3 grid, ids 0 1 2 / 3 4 5: vertical pairs first, then horizontal, row-major.
    expected = [[0, 3], [1, 4], [2, 5], [0, 1], [1, 2], [3, 4], [4, 5]]
    assert gc.grid_edges(2, 3).tolist() == expected


@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 50])
@pytest.mark.parametrize("window", [1, 3, 7])
def test_sequence_edges_order(length, window):
    result = gc.sequence_edges(length, window)
    assert result.dtype == torch.int64
    assert torch.equal(result, sequence_edges(length, window))


def test_sequence_edges_default_window_and_small_case_literally():
    assert gc.sequence_edges(4).tolist() == [[0, 1], [1, 2], [2, 3], [0, 2], [1, 3], [0, 3]]
    assert gc.sequence_edges(4, 1).tolist() == [[0, 1], [1, 2], [2, 3]]
