"""``gantransfer transfer``, ``predict``, ``evaluate`` and ``export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_data_arguments, data_options, print_json
from .options import HelpAll, add_config_arguments, config_from_args, detail_section, given_sections
from .commands import command_help
from .outputs import output_file, output_folder

#: the options of ``gantransfer transfer`` that only ``--help-all`` lists and apply to every method
#: (or to every stage that a run may train), by what they apply to; the groups that only some methods
#: read are listed by the methods registry (:func:`transfer_sections`)
SHARED_SECTIONS = {
    "training": "target classifier training (every method that trains)",
    "classifier": "classifier network (every method)",
    "teacher": "self-training (--self-train): its teacher and unlabelled loss",
    "source_training": "source classifier stage (every method that starts from the source classifier)",
    "gan": "source GAN stage (the methods that read a GAN, --init gan; without --gan-checkpoint)",
    "acceleration": "device and speed (every network the run trains)",
}


def transfer_sections() -> dict[str, str]:
    """Every option group's title in ``--help-all``: the shared ones, then each method group with the
    methods that read it (from the registry)."""
    from ..methods.registry import GAN_INIT_SECTION, OPTION_GROUPS, readers

    titles = dict(SHARED_SECTIONS)
    for section, group in OPTION_GROUPS.items():
        by = ", ".join(readers(section)) + (" and --init gan" if section == GAN_INIT_SECTION else "")
        titles[section] = f"{by} ({group.summary})"
    return titles


def register(commands) -> None:
    from ..methods import METHODS, TransferConfig
    from ..methods.config import TIED_GAN_FIELDS

    methods = "; ".join(f"{m.name}: {m.summary}" for m in METHODS.values())
    transfer = commands.add_parser(
        "transfer",
        help=command_help("transfer"),
        # argparse would list every option here, the ones only --help-all shows too
        usage="%(prog)s --out OUT [--source SOURCE] [--target TARGET] [--method METHOD] [option ...]",
        description=f"Train a classifier for the target domain from the source domain, the k labelled "
        f"target images per class and, with --self-train, the unlabelled target images. Methods: {methods}.",
    )
    transfer.add_argument("--help-all", action=HelpAll, help="show every option, by the methods they apply to")
    transfer.add_argument("--out", required=True, help="run folder (a half-finished run there resumes)")
    transfer.add_argument("--config", help="YAML file of TransferConfig values; options given here override it")
    transfer.add_argument("--stages-dir", help="folder of shared stages (default: <cache dir>/stages)")
    transfer.add_argument("--no-progress", action="store_true", help="hide progress bars")
    main = transfer.add_argument_group("the run (also settable in a --config YAML file; --help-all lists the "
                                       "options of each method and stage)")
    sections = {name: detail_section(transfer, title) for name, title in transfer_sections().items()}
    add_config_arguments(transfer, TransferConfig, skip=tuple(f"gan.{name}" for name in TIED_GAN_FIELDS),
                         group=main, sections=sections,
                         shown=("training.steps", "acceleration.device"))
    add_data_arguments(transfer)
    transfer.set_defaults(handler=run_transfer)

    predict = commands.add_parser(
        "predict",
        help=command_help("predict"),
        description="Predict image files (any size and format Pillow reads), folders and .npy/.npz arrays. "
        "Unreadable inputs are reported and skipped; the exit code is 1 if any failed.",
    )
    predict.add_argument("classifier", help="classifier.safetensors or a transfer run folder")
    predict.add_argument("inputs", nargs="+", help="image files, folders, .npy or .npz files")
    predict.add_argument("--output", required=True, help="predictions file: .csv, or .json")
    predict.set_defaults(handler=run_predict)

    evaluate = commands.add_parser(
        "evaluate",
        help=command_help("evaluate"),
        description="Print accuracy and per-class accuracy on --target's test split and save the confusion matrix.",
    )
    evaluate.add_argument("classifier", help="classifier.safetensors or a transfer run folder")
    evaluate.add_argument("--target", required=True, help="domain: mnist, usps or a path")
    evaluate.add_argument("--split", default="test", choices=["train", "test", "validation"])
    evaluate.add_argument("--output-dir", help="where to save evaluation.json and the confusion matrix "
                          "(default: beside the classifier)")
    add_data_arguments(evaluate)
    evaluate.set_defaults(handler=run_evaluate)

    export = commands.add_parser(
        "export",
        help=command_help("export"),
        description="Write the classifier as TorchScript (.pt, loads with torch.jit.load) or ONNX (.onnx, "
        "needs the onnx and onnxscript packages). Input: float (N, C, S, S) in [-1, 1]; output: logits.",
    )
    export.add_argument("classifier", help="classifier.safetensors or a transfer run folder")
    export.add_argument("--output", required=True, help="file to write: .pt (TorchScript) or .onnx")
    export.set_defaults(handler=run_export)


def run_transfer(args: argparse.Namespace) -> int:
    from ..methods import TransferConfig, transfer

    from ..methods.registry import check_options_read, get_method

    config = config_from_args(TransferConfig, args)
    check_options_read(get_method(config.method), given_sections(TransferConfig, args), config.init)
    out = output_folder(args.out, "--out")
    metrics = transfer(config, out, data_options(args), args.stages_dir, progress_bar=not args.no_progress)
    summary = {key: metrics.get(key) for key in ("method", "source", "target", "k", "seed", "self_train",
                                                  "target_test_accuracy", "validation_scores",
                                                  "prediction_collapse", "wall_seconds")}
    print_json({"out": args.out, **summary})
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from ..models.saving import load_classifier
    from ..prediction import PREDICTION_SUFFIXES, predict_files, write_predictions

    output_file(args.output, "--output", PREDICTION_SUFFIXES)
    saved = load_classifier(args.classifier)
    report = predict_files(saved, args.inputs)
    write_predictions(args.output, report, saved.class_names)
    for failure in report.failures:
        print(f"gantransfer predict: skipped {failure}", file=sys.stderr)
    print(f"{len(report.predictions)} prediction(s) written to {args.output}"
          + (f"; {len(report.failures)} input(s) failed" if report.failures else ""))
    return 1 if report.failures else 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation.classification import evaluate_classifier
    from ..evaluation.plots import save_confusion_matrix
    from ..fileio import write_json
    from ..models.saving import load_classifier
    from ..prediction import evaluation_set

    chosen = output_folder(args.output_dir, "--output-dir") if args.output_dir else None
    saved = load_classifier(args.classifier)
    options = data_options(args)
    data = evaluation_set(saved, args.target, args.split, options)
    report = evaluate_classifier(saved.model, data)
    classifier_path = Path(args.classifier)
    folder = chosen or (classifier_path if classifier_path.is_dir() else classifier_path.parent)
    name = Path(args.target).name or args.target
    save_confusion_matrix(folder / f"confusion_{name}_{args.split}.png", report.confusion, saved.class_names,
                          title=f"{name} {args.split}")
    result = {"target": args.target, "split": args.split, "images": len(data), **report.as_dict(saved.class_names)}
    write_json(folder / f"evaluation_{name}_{args.split}.json", result)
    print_json(result)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ..export import EXPORT_SUFFIXES, export_classifier
    from ..models.saving import load_classifier

    output_file(args.output, "--output", EXPORT_SUFFIXES)
    path = export_classifier(load_classifier(args.classifier), args.output)
    print(f"exported to {path}")
    return 0
