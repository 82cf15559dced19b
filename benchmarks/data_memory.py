"""Memory and throughput of a large colour image folder, held in memory (uint8) or streamed from disk.

Builds a folder of synthetic colour PNGs (train/ and test/, 10 classes each) per image size, then for
each size and each path (``memory``: the uint8 tensor the default budget allows; ``streamed``: a
zero memory budget, so the folder is decoded per batch in DataLoader worker processes) runs, in a
fresh child process so that each peak is its own:

- a classifier (the library's default conv trunk, its default augmentation for colour images) for
  ``--steps`` steps of batch 64, and
- a conditional DCGAN (minimax) for ``--gan-steps`` steps of batch 64,

and reports images/s of each and the child's peak resident memory (``VmHWM``; the decoding
workers' own peak beside it, from ``getrusage(RUSAGE_CHILDREN)``).

    OMP_NUM_THREADS=1 python benchmarks/data_memory.py --images 50000 --sizes 32 64 128 --steps 300 \
        --gan-steps 100 --scratch /tmp/dm

(One thread: on a shared 2-core machine two threads per process were 10 times slower, not faster.)

The folders stay in ``--scratch`` (reused when present), so a second run skips building them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CLASSES = 10


def build_folder(root: Path, images: int, size: int, seed: int = 0) -> Path:
    """``root/train/<class>/<i>.png`` (``images`` of them) and ``root/test/<class>/...`` (2 % more):
    synthetic colour photos of ``size`` px (a disc of the class's hue on a smooth background, plus
    mild noise, so that PNG compresses as photos do)."""
    from PIL import Image

    done = root / "done.json"
    if done.is_file():
        return root
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size] / size
    for split, count in (("train", images), ("test", max(CLASSES, images // 50))):
        for i in range(count):
            label = i % CLASSES
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            hue = np.array([np.cos(label), np.cos(label + 2.1), np.cos(label + 4.2)]) * 0.4 + 0.5
            background = 0.3 + 0.2 * np.stack([rows, cols, 1 - rows], axis=-1) * rng.uniform(0.5, 1.5)
            cy, cx, radius = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
            disc = ((rows - cy) ** 2 + (cols - cx) ** 2 < radius**2)[..., None]
            image = np.where(disc, hue, background) + rng.normal(0, 0.02, (size, size, 3))
            Image.fromarray((image.clip(0, 1) * 255).astype(np.uint8)).save(folder / f"{i:06d}.png")
    done.write_text(json.dumps({"images": images, "size": size}))
    return root


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(folder: Path, size: int, mode: str, steps: int, gan_steps: int, batch: int, workers: int) -> dict:
    """Load the folder, train a classifier and a GAN on it; one JSON line of measurements."""
    import torch

    from gantransfer.data import BatchStream, ImageFormat, load_domain
    from gantransfer.engine.trainer import Progress
    from gantransfer.methods import TransferConfig
    from gantransfer.models import Classifier
    from gantransfer.training.pretrain import GanTask, PretrainConfig
    from gantransfer.training.supervised import ClassifierTask, ClassifierTraining, LabelledSource

    torch.manual_seed(0)
    fmt = ImageFormat(size, 3)
    start = time.perf_counter()
    data = load_domain(str(folder), "train", fmt, memory_budget_gib=0.0 if mode == "streamed" else None,
                       workers=workers)
    load_seconds = time.perf_counter() - start
    result = {"size": size, "mode": mode, "images": len(data), "streamed": data.streamed,
              "pixels_gib": round(len(data) * 3 * size * size / 1024**3, 3), "load_s": round(load_seconds, 1),
              "rss_after_load_mib": round(peak_rss_mib())}

    def timed(task, per_step: int, count: int) -> float:
        task.train_step(Progress(0, count + 1))  # warm-up: first batches, workers starting
        begin = time.perf_counter()
        for step in range(1, count + 1):
            task.train_step(Progress(step, count + 1))
        return round(count * per_step / (time.perf_counter() - begin), 1)

    training = ClassifierTraining(steps=steps + 1, batch_size=batch)
    classifier = Classifier(TransferConfig().with_format(fmt).classifier_config(data.num_classes))
    stream = BatchStream((data.images, data.labels), batch, seed=0)
    result["classifier_images_per_s"] = timed(ClassifierTask(classifier, [LabelledSource("train", stream)], training),
                                              batch, steps)
    del stream
    config = PretrainConfig(conditional=True, batch_size=batch, steps=gan_steps, quality_samples=0).with_format(fmt)
    stream = BatchStream((data.images, data.labels), batch, seed=1)
    result["gan_real_images_per_s"] = timed(GanTask(config, data.class_names, stream, torch.device("cpu")),
                                            batch * config.critic_updates, gan_steps)
    del stream
    result["peak_rss_mib"] = round(peak_rss_mib())
    result["workers_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--modes", nargs="+", default=["memory", "streamed"], choices=["memory", "streamed"])
    parser.add_argument("--steps", type=int, default=300, help="classifier steps")
    parser.add_argument("--gan-steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scratch", default="benchmarks/out/data_memory", help="where the folders are built")
    parser.add_argument("--out", help="JSON lines file to append the results to")
    parser.add_argument("--child", nargs=3, metavar=("FOLDER", "SIZE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        folder, size, mode = args.child
        print(json.dumps(child(Path(folder), int(size), mode, args.steps, args.gan_steps, args.batch_size,
                               args.workers)))
        return
    for size in args.sizes:
        started = time.perf_counter()
        folder = build_folder(Path(args.scratch) / f"colour{size}-{args.images}", args.images, size)
        print(f"# folder {folder} ready ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        for mode in args.modes:
            command = [sys.executable, __file__, "--child", str(folder), str(size), mode, "--steps", str(args.steps),
                       "--gan-steps", str(args.gan_steps), "--batch-size", str(args.batch_size),
                       "--workers", str(args.workers)]
            done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                raise SystemExit(done.returncode)
            line = done.stdout.strip().splitlines()[-1]
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as handle:
                    handle.write(line + "\n")


if __name__ == "__main__":
    main()
