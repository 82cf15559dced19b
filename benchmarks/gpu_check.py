"""One short, prepared check of the library on a CUDA GPU; installs nothing, prints a table.

1. Training throughput of the conditional DCGAN (minimax), the WGAN-GP critic
   loop and the classifier at batch 64, 256 and 1024, in fp32, bf16
   autocast, bf16 + channels_last and (at batch 256) bf16 + channels_last +
   torch.compile, with the peak GPU memory of each.
2. A short ``pretrain`` and a short ``transfer`` (finetune, k = 10) on the
   GPU through the public API: wall seconds, peak GPU memory, and a check
   that bf16 training stays finite.

Data: MNIST and USPS from ``--data-dir`` / ``$GANTRANSFER_DATA`` when they are
there; otherwise synthetic labelled digits of the same shape (timings do not
depend on pixel values; accuracies then mean nothing and are not printed).

    PYTHONPATH=src python benchmarks/gpu_check.py            # about 3-5 minutes on one GPU
    PYTHONPATH=src python benchmarks/gpu_check.py --no-compile --out gpu_check.json
    PYTHONPATH=src python benchmarks/gpu_check.py --dry-run   # seconds, on the CPU: checks the script itself
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch


def fail(message: str) -> None:
    print(f"gpu_check: {message}", file=sys.stderr)
    sys.exit(2)


def synthetic_domain(path: Path, n: int, shift: int, seed: int) -> Path:
    """Labelled 28 x 28 'digits': a bright square at a class-specific place (moved by ``shift``)."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
    y = np.arange(n) % 10
    for i, label in enumerate(y):
        row, col = divmod(int(label), 4)
        top, left = 2 + 6 * row + shift, 2 + 6 * col + shift
        x[i, top : top + 5, left : left + 5] = 255
    np.savez(path, x=x, y=y)
    return path


def domains(args, scratch: Path) -> tuple[str, str, bool]:
    """(source, target, real): the built-in MNIST and USPS if readable, else synthetic .npz domains."""
    from gantransfer.data import load_domain
    from gantransfer.errors import DataError

    try:
        load_domain("mnist", "test", data_dir=args.data_dir)
        load_domain("usps", "test", data_dir=args.data_dir)
        return "mnist", "usps", True
    except DataError:
        source = synthetic_domain(scratch / "source.npz", 12_000, 0, 0)
        target = synthetic_domain(scratch / "target.npz", 3_000, 1, 1)
        return str(source), str(target), False


VARIANTS = {
    "fp32": dict(precision="fp32"),
    "bf16": dict(precision="bf16"),
    "bf16+cl": dict(precision="bf16", channels_last=True),
    "bf16+cl+compile": dict(precision="bf16", channels_last=True, compile=True),
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> int | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**20) if device.type == "cuda" else None


def measure(step, images_per_step: int, warmup: int, steps: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return images_per_step * steps / (time.perf_counter() - start)


def throughput_rows(args, source: str, device: torch.device) -> list[dict]:
    from gantransfer.data import BatchStream, load_domain
    from gantransfer.engine.acceleration import Acceleration
    from gantransfer.engine.trainer import Progress
    from gantransfer.methods import TransferConfig
    from gantransfer.models import Classifier
    from gantransfer.training.pretrain import GanTask, PretrainConfig
    from gantransfer.training.supervised import ClassifierTask, LabelledSource

    data = load_domain(source, "train", data_dir=args.data_dir)
    rows = []
    for batch in args.batch_sizes:
        for variant, options in VARIANTS.items():
            if options.get("compile") and (args.no_compile or batch != args.compile_batch_size):
                continue  # compilation takes a minute per network: one batch size is enough
            for model in ("gan", "wgan-gp", "classifier"):
                torch.manual_seed(0)
                reset_peak(device)
                warmup = 15 if options.get("compile") else 3
                try:
                    if model == "classifier":
                        training = replace(TransferConfig().source_training, batch_size=batch)
                        stream = BatchStream((data.images, data.labels), batch, seed=0)
                        task = ClassifierTask(Classifier(TransferConfig().with_format(data.format).classifier_config(10)),
                                              [LabelledSource("source", stream)], training, device=device,
                                              acceleration=Acceleration(device.type, **options))
                        per_step = batch
                    else:
                        config = PretrainConfig(objective="minimax" if model == "gan" else "wgan-gp",
                                                conditional=True, batch_size=batch, quality_samples=0,
                                                acceleration=Acceleration(device.type, **options)
                                                ).with_format(data.format)
                        stream = BatchStream((data.images, data.labels), batch, seed=0)
                        task = GanTask(config, data.class_names, stream, device)
                        per_step = batch * config.critic_updates
                    losses = {}

                    def step():
                        losses.update(task.train_step(Progress(0, 1)))

                    rate = measure(step, per_step, warmup, args.steps, device)
                    finite = all(math.isfinite(v) for v in losses.values())
                    row = {"model": model, "batch": batch, "variant": variant, "images_per_s": round(rate),
                           "peak_gpu_mib": peak_mib(device), "finite": finite}
                except Exception as error:  # report and go on: one failing option must not hide the others
                    row = {"model": model, "batch": batch, "variant": variant,
                           "error": f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"}
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def end_to_end(args, source: str, target: str, real: bool, scratch: Path, device: torch.device) -> list[dict]:
    from gantransfer.data import DataOptions
    from gantransfer.engine.acceleration import Acceleration
    from gantransfer.methods import TransferConfig, transfer
    from gantransfer.training.pretrain import PretrainConfig, pretrain
    from gantransfer.training.supervised import ClassifierTraining

    data = DataOptions(args.data_dir, str(scratch / "cache"))
    rows = []
    reset_peak(device)
    start = time.perf_counter()
    result = pretrain(PretrainConfig(source=source, objective="minimax", conditional=True, steps=args.pretrain_steps,
                                     batch_size=256, eval_every=0, quality_samples=0,
                                     acceleration=Acceleration(device.type)),
                      scratch / "pretrain", data, progress_bar=False)
    rows.append({"run": f"pretrain cDCGAN, {args.pretrain_steps} steps, batch 256, precision auto",
                 "seconds": round(time.perf_counter() - start, 1), "step": result.step,
                 "peak_gpu_mib": peak_mib(device)})
    print(json.dumps(rows[-1]), flush=True)

    reset_peak(device)
    start = time.perf_counter()
    config = TransferConfig(source=source, target=target, method="finetune", k=10,
                            acceleration=Acceleration(device.type),
                            training=ClassifierTraining(steps=args.target_steps, batch_size=64),
                            source_training=ClassifierTraining(steps=args.source_steps, batch_size=128))
    metrics = transfer(config, scratch / "transfer", data, stages_dir=scratch / "stages", progress_bar=False)
    row = {"run": f"transfer finetune k=10 ({args.source_steps} source + {args.target_steps} target steps), "
                  "precision auto",
           "seconds": round(time.perf_counter() - start, 1), "peak_gpu_mib": peak_mib(device)}
    if real:
        row["usps_test_accuracy"] = round(metrics["target_test_accuracy"], 4)
    rows.append(row)
    print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(key for row in rows for key in row))
    widths = {key: max(len(key), *(len(str(row.get(key, ""))) for row in rows)) for key in keys}
    lines = [" | ".join(key.ljust(widths[key]) for key in keys), "-+-".join("-" * widths[key] for key in keys)]
    lines += [" | ".join(str(row.get(key, "")).ljust(widths[key]) for key in keys) for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with MNIST/ and USPS/ (default: $GANTRANSFER_DATA; synthetic if absent)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per throughput cell")
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--source-steps", type=int, default=1000)
    parser.add_argument("--target-steps", type=int, default=300)
    parser.add_argument("--compile-batch-size", type=int, default=256)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile cells")
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--dry-run", action="store_true",
                        help="a few tiny steps on the CPU with synthetic data, to check the script itself")
    args = parser.parse_args()
    if args.dry_run:
        args.batch_sizes, args.steps, args.pretrain_steps, args.source_steps, args.target_steps = [16], 2, 3, 3, 3
        args.no_compile, args.data_dir = True, "/nonexistent"
        device = torch.device("cpu")
        name = header = "dry run on the CPU (options are no-ops here; the numbers mean nothing)"
    else:
        if not torch.cuda.is_available():
            fail("no CUDA GPU is visible to PyTorch (torch.cuda.is_available() is False); "
                 "this check only runs on a machine with an NVIDIA GPU (or use --dry-run)")
        device = torch.device("cuda")
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(device)
        header = (f"GPU: {name}, {torch.cuda.get_device_properties(device).total_memory / 2**30:.0f} GiB; "
                  f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
                  f"bf16 supported: {torch.cuda.is_bf16_supported()}")
    print(header, flush=True)
    started = time.time()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        source, target, real = domains(args, scratch)
        print(f"data: {'MNIST -> USPS' if real else 'synthetic digits (no MNIST/USPS found)'}", flush=True)
        speed = throughput_rows(args, source, device)
        runs = end_to_end(args, source, target, real, scratch, device)
    print()
    print(header)
    print(f"data: {'MNIST -> USPS' if real else 'synthetic digits'}; total {time.time() - started:.0f} s\n")
    print(table(speed))
    print()
    print(table(runs))
    if args.out:
        Path(args.out).write_text(json.dumps({"gpu": name, "header": header, "real_data": real,
                                              "throughput": speed, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
