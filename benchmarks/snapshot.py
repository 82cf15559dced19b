"""Keep a benchmark's results in the repository, and continue it on another machine.

A benchmark folder holds hundreds of megabytes of checkpoints and weights; its
results are a few hundred kilobytes. ``save`` copies the results (results.jsonl,
the report and its figures, and each finished cell's metrics.json, result.json
and config.json) into a folder that can be committed; ``restore`` copies the
cell files back into a benchmark folder, where `gantransfer benchmark` counts
those cells as finished and runs only the rest (the shared stages are trained
again, from the same seeds).

    python benchmarks/snapshot.py save benchmarks/out/full benchmarks/results/full
    python benchmarks/snapshot.py restore benchmarks/results/full benchmarks/out/full
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from gantransfer.experiments.report import FIGURES, REPORT_FILE
from gantransfer.experiments.results import RESULTS_FILE
from gantransfer.experiments.layout import BENCHMARK_FILE, CELLS, RESULT_FILE
from gantransfer.methods.transfer import METRICS_FILE

# What `gantransfer benchmark` needs to count a cell as finished, plus the config it checks against.
CELL_FILES = (METRICS_FILE, RESULT_FILE, "config.json")
TOP_FILES = (RESULTS_FILE, REPORT_FILE, "report.html", BENCHMARK_FILE)


def save(benchmark: Path, destination: Path) -> int:
    """Copy ``benchmark``'s results into ``destination`` (replacing what was there); return the cell count."""
    if not (benchmark / RESULTS_FILE).is_file():
        raise SystemExit(f"{benchmark} holds no {RESULTS_FILE}: is it a benchmark folder?")
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for name in TOP_FILES:
        if (benchmark / name).is_file():
            shutil.copy2(benchmark / name, destination / name)
    if (benchmark / FIGURES).is_dir():
        shutil.copytree(benchmark / FIGURES, destination / FIGURES)
    cells = 0
    for result in sorted(benchmark.glob(f"{CELLS}/**/{RESULT_FILE}")):
        cell = result.parent
        if not (cell / METRICS_FILE).is_file():
            continue  # not finished
        target = destination / cell.relative_to(benchmark)
        target.mkdir(parents=True, exist_ok=True)
        for name in CELL_FILES:
            if (cell / name).is_file():
                shutil.copy2(cell / name, target / name)
        cells += 1
    return cells


def restore(snapshot: Path, benchmark: Path) -> int:
    """Copy the finished cells of ``snapshot`` into ``benchmark`` where it has none; return how many."""
    restored = 0
    for result in sorted(snapshot.glob(f"{CELLS}/**/{RESULT_FILE}")):
        target = benchmark / result.parent.relative_to(snapshot)
        if (target / METRICS_FILE).is_file():
            continue  # finished there already: keep it
        if target.exists():
            shutil.rmtree(target)  # a half-finished run of a cell the snapshot has finished
        shutil.copytree(result.parent, target)
        restored += 1
    return restored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("source", type=Path)
    parser.add_argument("destination", type=Path)
    args = parser.parse_args()
    if args.action == "save":
        print(f"saved {save(args.source, args.destination)} finished cells to {args.destination}")
    else:
        print(f"restored {restore(args.source, args.destination)} finished cells into {args.destination}")


if __name__ == "__main__":
    main()
