"""Wall time and peak memory as the data grow: a source-classifier stage and a DANN run.

The source is MNIST's train set repeated to N images (10k, 60k, 240k) at 28 px, and 60k images
resized to 64 and 128 px; the target is 10k of MNIST's test digits, inverted (a fixed shift, so
that only the source grows). Both are ``.npz`` files, read as custom domains. Each cell runs, each
in a fresh process, ``gantransfer transfer --method source-only`` (the source stage trains a fixed
``--steps`` steps) and then ``--method dann`` (the stage cached, a fixed ``--steps`` DANN steps),
and records the wall time and the peak resident memory of each. With fixed steps, time should stay
flat as N grows (no step reads the whole domain) but for reading the files, and memory should grow
by the source's uint8 pixels.

    python benchmarks/scaling.py --out benchmarks/results/scaling
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gantransfer.data import DataOptions, ImageFormat, load_domain
from gantransfer.fileio import write_json

#: (source images, image size) of each cell
CELLS = ((10_000, 28), (60_000, 28), (240_000, 28), (60_000, 64), (60_000, 128))
TARGET_IMAGES = 10_000

#: run in the child: the command's own peak resident memory, printed as the last line
CHILD = (
    "import resource, sys\n"
    "from gantransfer.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def resized(images: torch.Tensor, size: int) -> np.ndarray:
    """uint8 (N, H, W) at ``size`` x ``size``, resized in chunks (a float copy of all would not fit)."""
    if images.shape[-1] == size:
        return images.numpy()
    out = np.empty((len(images), size, size), dtype=np.uint8)
    for start in range(0, len(images), 5000):
        chunk = images[start:start + 5000, None].float()
        out[start:start + 5000] = F.interpolate(chunk, size=size, mode="bilinear").round().clamp(0, 255)[:, 0].byte()
    return out


def write_domains(folder: Path, images: int, size: int, options: DataOptions) -> tuple[Path, Path]:
    grey = ImageFormat(28, 1)
    train = load_domain("mnist", "train", grey, options.data_dir, options.cache_dir)
    test = load_domain("mnist", "test", grey, options.data_dir, options.cache_dir)
    repeat = -(-images // len(train))
    source_x = train.images[:, 0].repeat(repeat, 1, 1)[:images]
    source_y = train.labels.repeat(repeat)[:images]
    source, target = folder / f"source-{images}-{size}", folder / f"target-{size}"
    source.mkdir(parents=True, exist_ok=True)
    np.savez(source / "train.npz", x=resized(source_x, size), y=source_y.numpy())
    np.savez(source / "test.npz", x=resized(test.images[:2000, 0], size), y=test.labels[:2000].numpy())
    if not target.is_dir():
        target.mkdir(parents=True)
        inverted = 255 - test.images[:, 0]
        np.savez(target / "train.npz", x=resized(inverted[:TARGET_IMAGES // 2], size),
                 y=test.labels[:TARGET_IMAGES // 2].numpy())
        np.savez(target / "test.npz", x=resized(inverted[TARGET_IMAGES // 2:], size),
                 y=test.labels[TARGET_IMAGES // 2:].numpy())
    return source, target


def run(arguments: list[str]) -> dict[str, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *arguments], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)} failed:\n{done.stderr[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(int(done.stdout.strip().splitlines()[-1]) / 1024)}


def measure(images: int, size: int, steps: int, work: Path, options: DataOptions) -> dict[str, Any]:
    source, target = write_domains(work / "data", images, size, options)
    # The size given: left to inference, a run trains on 128 px images at 64 px (the default cap).
    common = ["transfer", "--source", str(source), "--target", str(target), "--seed", "0", "--no-progress",
              "--image-size", str(size), "--channels", "1", "--k", "0",
              "--stages-dir", str(work / f"stages-{images}-{size}"), "--source-training-steps", str(steps),
              "--training-steps", str(steps)]
    result = {"images": images, "size": size, "steps": steps}
    result["source_stage"] = run([*common, "--method", "source-only", "--out", str(work / f"so-{images}-{size}")])
    result["dann"] = run([*common, "--method", "dann", "--out", str(work / f"dann-{images}-{size}")])
    result["source_pixels_mib"] = round(images * size * size / 2**20)
    return result


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| source images | size | source pixels (MiB) | source stage: s, peak MiB | DANN run: s, peak MiB |",
             "|---|---|---|---|---|"]
    for row in rows:
        stage, dann = row["source_stage"], row["dann"]
        lines.append(f"| {row['images']:,} | {row['size']} px | {row['source_pixels_mib']:,} | "
                     f"{stage['seconds']}, {stage['peak_rss_mib']:,} | {dann['seconds']}, {dann['peak_rss_mib']:,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps of the source stage and of DANN")
    parser.add_argument("--cells", nargs="*", help="IMAGESxSIZE cells (default: all of CELLS)")
    parser.add_argument("--out", default="benchmarks/out/scaling")
    parser.add_argument("--work", help="folder of the data files and runs (default: a temporary one)")
    parser.add_argument("--data-dir")
    parser.add_argument("--cache-dir")
    args = parser.parse_args()
    options = DataOptions(data_dir=args.data_dir, cache_dir=args.cache_dir)
    cells = [tuple(map(int, cell.split("x"))) for cell in args.cells] if args.cells else CELLS
    work = Path(args.work or tempfile.mkdtemp(prefix="scaling-"))
    rows = []
    for images, size in cells:
        rows.append(measure(images, size, args.steps, work, options))
        print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "scaling.json", {"load": os.getloadavg()[0], "rows": rows})
    print(table(rows))


if __name__ == "__main__":
    main()
