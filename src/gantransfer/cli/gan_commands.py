"""``gantransfer pretrain`` and ``gantransfer evaluate-gan``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..fileio import write_json
from .commands import command_help
from .common import add_data_arguments, data_options, print_json
from .options import add_config_arguments, config_from_args
from .outputs import output_file, output_folder


def register(commands) -> None:
    from ..training.pretrain import PretrainConfig
    from ..training.reference import ReferenceRecipe

    pretrain = commands.add_parser(
        "pretrain",
        help=command_help("pretrain"),
        description="Train a GAN (minimax, wgan, wgan-gp, hinge or least-squares; --conditional for a cGAN) on the "
        "source domain's train split. Writes checkpoints, metrics.jsonl, sample grids and "
        "TensorBoard logs to --out.",
    )
    pretrain.add_argument("--out", required=True, help="run folder to create (or to continue with --resume)")
    pretrain.add_argument("--config", help="YAML file of PretrainConfig values; options given here override it")
    pretrain.add_argument("--resume", action="store_true", help="continue the run in --out from its latest "
                          "checkpoint, with its stored config (options given beside it must repeat it; "
                          "--steps/--epochs may grow)")
    pretrain.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_config_arguments(pretrain, PretrainConfig)
    add_data_arguments(pretrain)
    pretrain.set_defaults(handler=run_pretrain)

    evaluate = commands.add_parser(
        "evaluate-gan",
        help=command_help("evaluate-gan"),
        description="Generate --samples images and compare them with the source test set in the feature "
        "space of the domain's reference classifier (trained once and cached). Prints the metrics and "
        "saves them as JSON.",
    )
    evaluate.add_argument("checkpoint", help="a GAN checkpoint (.pt) or its run folder")
    evaluate.add_argument("--samples", type=int, default=10_000, help="images to generate (default: 10000)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the generated noise (default: 0)")
    evaluate.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or mps (default: auto)")
    evaluate.add_argument("--reference-steps", type=int, default=ReferenceRecipe.steps,
                          help="training steps of the domain's reference classifier, trained once per domain and "
                          f"cached (default: {ReferenceRecipe.steps})")
    evaluate.add_argument("--output", help="JSON file to write (default: gan_evaluation.json in the run folder)")
    add_data_arguments(evaluate)
    evaluate.set_defaults(handler=run_evaluate_gan)


def run_pretrain(args: argparse.Namespace) -> int:
    from ..training.pretrain import PretrainConfig, pretrain, run_config

    out = output_folder(args.out, "--out")
    # --resume continues the stored config; options given beside it must repeat it (or raise the budget).
    stored = run_config(out) if args.resume else None
    config = config_from_args(PretrainConfig, args, base=stored)
    result = pretrain(config, out, data_options(args), resume=args.resume, progress_bar=not args.no_progress)
    print_json({"out": args.out, "step": result.step, "interrupted": result.interrupted, **result.metrics})
    return 130 if result.interrupted else 0


def run_evaluate_gan(args: argparse.Namespace) -> int:
    from ..engine.device import resolve_device
    from ..training.gan_evaluation import evaluate_gan
    from ..training.reference import ReferenceRecipe

    output = output_file(args.output, "--output", (".json",)) if args.output else None
    metrics = evaluate_gan(args.checkpoint, args.samples, data_options(args), args.seed, resolve_device(args.device),
                           ReferenceRecipe(steps=args.reference_steps))
    checkpoint = Path(args.checkpoint)
    run_dir = checkpoint if checkpoint.is_dir() else checkpoint.parent.parent
    write_json(output or run_dir / "gan_evaluation.json", metrics)
    print_json(metrics)
    return 0
