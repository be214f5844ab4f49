"""The benchmark script runs end to end (tiny shape, CPU); no timings are checked."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_bench_lang_runs_every_variant(capsys):
    path = Path(__file__).parents[1] / "benchmarks" / "bench_lang.py"
    spec = importlib.util.spec_from_file_location("bench_lang", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(
        ["--device", "cpu", "--shape", "tiny", "--lengths", "12", "--batch", "2", "--steps", "1"]
    )
    assert [row["variant"] for row in rows] == ["hf", "chain", "grootl"]
    assert all(row["ms"] > 0 for row in rows)
    assert "grootl" in capsys.readouterr().out
