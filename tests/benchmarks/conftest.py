"""Ratio table of the CPU core benchmarks (test_bench_core_cpu.py), printed after the run from the
timings of that same run: medians, and minima (steadier on a shared machine)."""

from __future__ import annotations

import pytest

TIMINGS: dict[str, tuple[float, float]] = {}  # name -> (median, min) in seconds

# (row, numerator, denominator, target); a ratio shows once both of its timings were measured.
RATIOS = [
    ("tree scan fwd+bwd: groot / clone", "scan groot", "scan clone", "<= 10"),
    ("groot / clone, output cache off", "scan groot, cache off", "scan clone", ""),
    ("three clones / clone (the allocator's share)", "scan three clones", "scan clone", ""),
    ("tree scan fwd+bwd: groot 1 thread / clone", "scan groot 1 thread", "scan clone", ""),
    ("tree scan fwd+bwd: reference / groot", "scan reference", "scan groot", ""),
    ("token-major (B, L, D) inputs / channel-major", "scan groot token-major", "scan groot", ""),
    ("MST: scipy / groot", "mst scipy", "mst groot", ">= 5"),
    ("MST: scipy / groot 1 thread", "mst scipy", "mst groot 1 thread", ""),
]


@pytest.fixture
def keep_timing(benchmark):
    """``keep_timing(name)`` after ``benchmark(...)`` puts its median and minimum into the table."""

    def keep(name: str) -> None:
        if benchmark.stats is not None:  # None under --benchmark-disable (one untimed round)
            TIMINGS[name] = (benchmark.stats.stats.median, benchmark.stats.stats.min)

    return keep


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("groot_core CPU benchmark ratios (this run)")
    write(f"  {'timing':<45} {'median ms':>10} {'min ms':>10}")
    for name, (median, minimum) in TIMINGS.items():
        write(f"  {name:<45} {median * 1e3:10.2f} {minimum * 1e3:10.2f}")
    write("")
    write(f"  {'ratio':<45} {'medians':>10} {'minima':>10}  target")
    for row, numerator, denominator, target in RATIOS:
        if numerator in TIMINGS and denominator in TIMINGS:
            by_median, by_min = (TIMINGS[numerator][k] / TIMINGS[denominator][k] for k in (0, 1))
            write(f"  {row:<45} {by_median:10.1f} {by_min:10.1f}  {target}")
