"""``gantransfer benchmark`` and ``gantransfer report``."""

from __future__ import annotations

import argparse

from .common import add_data_arguments, data_options
from .commands import command_help
from .outputs import output_folder


def register(commands) -> None:
    benchmark = commands.add_parser(
        "benchmark",
        help=command_help("benchmark"),
        description="Run every cell (direction x method x k x seed) of the grid in CONFIG into --out, sharing "
        "trained stages, and write results.jsonl, report.md and report.html there. Run the same command again "
        "to continue an interrupted benchmark: finished cells are kept, a half-finished one resumes. "
        "See examples/mnist_usps_quick.yaml for the format.",
    )
    benchmark.add_argument("config", help="YAML file describing the grid")
    benchmark.add_argument("--out", required=True, help="benchmark folder (an existing one is continued)")
    benchmark.add_argument("--stages-dir", help="folder of shared stages (default: OUT/stages; give "
                           "<cache dir>/stages to share them with `gantransfer transfer`)")
    benchmark.add_argument("--dry-run", action="store_true", help="check the config and list its cells; run nothing")
    benchmark.add_argument("--no-report", action="store_true", help="do not render the report at the end")
    benchmark.add_argument("--no-progress", action="store_true", help="hide the per-cell training progress bars")
    benchmark.add_argument("--wandb", action="store_true", help="also log every finished cell to Weights & Biases "
                           "(offline unless WANDB_MODE says otherwise; needs pip install 'gantransfer[wandb]')")
    benchmark.add_argument("--wandb-project", default="gantransfer", help="W&B project (default: gantransfer)")
    add_data_arguments(benchmark)
    benchmark.set_defaults(handler=run_benchmark_command)

    report = commands.add_parser(
        "report",
        help=command_help("report"),
        description="Write DIR/report.md, DIR/report.html and DIR/figures/ from DIR/results.jsonl. Pictures "
        "that need files no longer there are left out with a note; t-SNE maps not computed yet need the data.",
    )
    report.add_argument("dir", help="benchmark folder holding results.jsonl")
    add_data_arguments(report)
    report.set_defaults(handler=run_report_command)


def _log(line: str) -> None:
    print(line, flush=True)


def run_benchmark_command(args: argparse.Namespace) -> int:
    from ..experiments import load_benchmark, run_benchmark

    out = output_folder(args.out, "--out")
    grid = load_benchmark(args.config)
    if args.dry_run:
        cells = grid.cells()
        for index, cell in enumerate(cells, 1):
            print(f"[{index}/{len(cells)}] {cell.id}")
        print(f"{len(cells)} cells; nothing run (--dry-run)")
        return 0
    run_benchmark(grid, out, data_options(args), args.stages_dir, progress_bar=not args.no_progress,
                  wandb_project=args.wandb_project if args.wandb else None, report=not args.no_report, log=_log)
    return 0


def run_report_command(args: argparse.Namespace) -> int:
    from ..experiments import render_report

    path = render_report(args.dir, data_options(args), log=_log)
    print(f"report: {path} and {path.with_suffix('.html')}")
    return 0
