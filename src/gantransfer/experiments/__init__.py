"""Whole studies in one command: a grid of transfer runs, resumable, with a report.

``run_benchmark(load_benchmark("examples/mnist_usps_quick.yaml"), out="runs/quick")``
runs every cell (direction x method x k x seed) through
:func:`gantransfer.methods.transfer`, sharing the trained stages, and writes
``results.jsonl``, ``report.md`` and ``report.html``; ``render_report(out)``
re-renders the report from ``results.jsonl``.
"""

from .grid import BenchmarkConfig, Cell, Direction, MethodEntry, benchmark_from_dict, load_benchmark
from .report import render_report
from .results import RESULTS_FILE, Result, Summary, read_results, summarize
from .runner import run_benchmark

__all__ = [
    "RESULTS_FILE",
    "BenchmarkConfig",
    "Cell",
    "Direction",
    "MethodEntry",
    "Result",
    "Summary",
    "benchmark_from_dict",
    "load_benchmark",
    "read_results",
    "render_report",
    "run_benchmark",
    "summarize",
]
