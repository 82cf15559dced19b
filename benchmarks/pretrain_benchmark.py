"""GAN pretraining benchmark: throughput of each objective, and quality after a fixed budget.

Throughput: real images per second consumed by the discriminator, at batch
64 and 256, timed over a few steps after a warm-up.
Quality: a conditional GAN trained for a fixed number of epochs on MNIST,
then judged by ``evaluate_gan`` (10,000 samples): Frechet distance on the
reference classifier's features, its ratio to the real-vs-real floor, and
the conditional accuracy. Runs are resumable: a finished run is skipped,
an interrupted one continues from its latest checkpoint.

    python benchmarks/pretrain_benchmark.py throughput --out benchmarks/out
    python benchmarks/pretrain_benchmark.py quality --objective minimax --epochs 10 --out benchmarks/out
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import torch

from gantransfer.data import BatchStream, DataOptions, ImageFormat, load_domain
from gantransfer.engine.trainer import Progress
from gantransfer.fileio import write_json
from gantransfer.training.gan_evaluation import evaluate_gan
from gantransfer.training.pretrain import GanTask, PretrainConfig, pretrain


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(objective: str, batch_size: int, conditional: bool, steps: int, data: DataOptions) -> float:
    config = PretrainConfig(objective=objective, conditional=conditional, batch_size=batch_size, steps=steps,
                            quality_samples=0).with_format(ImageFormat(28, 1))  # MNIST's, as pretrain infers it
    source = load_domain("mnist", "train", config.format, data.data_dir, data.cache_dir)
    stream = BatchStream((source.images, source.labels), batch_size, seed=0)
    task = GanTask(config, source.class_names, stream, torch.device("cpu"))
    for _ in range(2):
        task.train_step(Progress(0, steps))
    start = time.perf_counter()
    for step in range(steps):
        task.train_step(Progress(step, steps))
    elapsed = time.perf_counter() - start
    return steps * config.critic_updates * batch_size / elapsed


def run_throughput(args: argparse.Namespace, data: DataOptions) -> None:
    rows = []
    for objective in ("minimax", "wgan", "wgan-gp"):
        for batch_size in (64, 256):
            steps = max(4, 3200 // (batch_size * (1 if objective == "minimax" else 5)))
            rate = throughput(objective, batch_size, args.conditional, steps, data)
            rows.append({"objective": objective, "batch_size": batch_size, "conditional": args.conditional,
                         "real_images_per_second": round(rate, 1)})
            print(json.dumps(rows[-1]), flush=True)
    result = {"machine": machine(), "peak_memory_mib": round(peak_memory_mib(), 1), "rows": rows}
    write_json(Path(args.out) / f"throughput{'-conditional' if args.conditional else ''}.json", result)


def run_quality(args: argparse.Namespace, data: DataOptions) -> None:
    name = f"quality-{args.objective}-{'c' if args.conditional else 'u'}-e{args.epochs:g}-s{args.seed}"
    out = Path(args.out) / name
    result_path = Path(args.out) / f"{name}.json"
    if result_path.is_file():
        print(result_path.read_text())
        return
    config = PretrainConfig(objective=args.objective, conditional=args.conditional, epochs=args.epochs,
                            seed=args.seed, eval_every=args.eval_every, batch_size=args.batch_size)
    start = time.time()
    resume = (out / "checkpoints" / "latest.pt").is_file()
    fit = pretrain(config, out, data, resume=resume, progress_bar=not args.no_progress)
    if fit.interrupted:
        return
    train_seconds = time.time() - start
    metrics = evaluate_gan(out, samples=10_000, data=data)
    result = {"objective": args.objective, "conditional": args.conditional, "epochs": args.epochs,
              "seed": args.seed, "batch_size": args.batch_size, "train_seconds_this_session": round(train_seconds, 1),
              "resumed": resume, "machine": machine(), "peak_memory_mib": round(peak_memory_mib(), 1), **metrics}
    write_json(result_path, result)
    print(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["throughput", "quality"])
    parser.add_argument("--out", default="benchmarks/out")
    parser.add_argument("--objective", default="minimax")
    parser.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--epochs", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--data-dir")
    parser.add_argument("--cache-dir")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    data = DataOptions(args.data_dir, args.cache_dir)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (run_throughput if args.what == "throughput" else run_quality)(args, data)


if __name__ == "__main__":
    main()
