"""Where a training step's time goes on the CPU, and what each speed option buys.

For each of four steps (the source classifier, the conditional GAN, the CycleGAN
translators, DANN) this builds one task per variant in one process and times them
interleaved, round after round, so that a change in the machine's load hits every
variant alike:

- ``before``: fp32, contiguous (NCHW) memory, PyTorch's default (foreach) optimiser
  kernels: the settings of the library before the CPU speed options;
- ``default``: what ``Acceleration()`` does now on the CPU (``channels_last`` and
  ``compile`` left to ``auto``: NHWC convolutions, fused Adam, eager, fp32);
- ``bf16``: the default under bf16 autocast (``--precision bf16``);
- ``compiled``: the default under ``torch.compile`` (``--compile on``);
- ``1 thread``: the default with one intra-op thread (``torch.set_num_threads(1)``).

It prints images/s (median over the rounds) and the ratio to ``before``, the compile
time (the first steps of a compiled task with an empty inductor cache, then in a
new process that finds the cache filled) with the number of steps a run needs before compiling pays,
and, from ``torch.profiler``, where the default step's CPU time goes. Results go
to ``--out``/step_speed.json. Run it on a quiet machine:

    python benchmarks/step_speed.py --out benchmarks/results/step-speed
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

# Compile times are measured from an empty inductor cache unless asked otherwise: set before torch loads.
if "--keep-inductor-cache" not in sys.argv:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")

import json
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

import gantransfer.objectives.optim as optim_module
from gantransfer.data import BatchStream, DataOptions, ImageFormat, load_domain
from gantransfer.engine.acceleration import Acceleration
from gantransfer.engine.seeding import seed_everything
from gantransfer.engine.trainer import Progress
from gantransfer.fileio import write_json
from gantransfer.methods import TransferConfig
from gantransfer.methods.dann import DomainAdaptationOptions
from gantransfer.methods.dann import DomainAdversarialTask, domain_discriminator
from gantransfer.models import Classifier
from gantransfer.training.pretrain import GanTask, PretrainConfig
from gantransfer.training.supervised import ClassifierTask, LabelledSource
from gantransfer.training.translation import TranslationTask, TranslationTraining

GREY, COLOUR = ImageFormat(28, 1), ImageFormat(28, 3)
MIDWAY = Progress(0, 2)  # halfway through training: DANN's reversal coefficient is on

#: variant -> (acceleration, fused optimiser kernels allowed, intra-op threads or None for all)
VARIANTS: dict[str, tuple[Acceleration, bool, int | None]] = {
    "before": (Acceleration("cpu", "fp32", channels_last=False, compile=False), False, None),
    "default": (Acceleration("cpu"), True, None),
    "bf16": (Acceleration("cpu", "bf16"), True, None),
    "compiled": (Acceleration("cpu", compile=True), True, None),
    "1 thread": (Acceleration("cpu"), True, 1),
}

#: profiler operator names -> the part of the step they are counted in (first match wins)
PARTS = (
    ("convolution", ("conv", "mkldnn_convolution")),
    ("matrix multiply", ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear")),
    ("optimiser", ("adam", "optimizer", "_foreach", "lerp")),
    ("normalisation", ("batch_norm", "instance_norm", "layer_norm")),
    ("augmentation and data", ("grid_sampler", "affine_grid", "index", "gather", "randperm", "to_copy")),
    ("elementwise", ("relu", "where", "add", "mul", "sub", "div", "copy_", "tanh", "sigmoid", "exp", "clamp",
                     "softplus", "pow", "sqrt", "fill_", "threshold")),
)


@contextmanager
def unfused():
    """Optimisers built inside take PyTorch's default kernels, as before the fused ones."""
    fusable = optim_module._fusable
    optim_module._fusable = lambda params: None
    try:
        yield
    finally:
        optim_module._fusable = fusable


# -- the four steps: each builder returns step() -> images trained on ------------------------------------


def classifier_step(domains, acceleration: Acceleration) -> Callable[[], int]:
    settings = TransferConfig(acceleration=acceleration).with_format(COLOUR)
    training = settings.source_training
    source = domains["mnist"]
    task = ClassifierTask(Classifier(settings.classifier_config(10)),
                          [LabelledSource("source", BatchStream((source.images, source.labels), training.batch_size,
                                                                seed=0))], training, acceleration=acceleration)
    return lambda: task.train_step(MIDWAY) and training.batch_size


def gan_step(domains, acceleration: Acceleration) -> Callable[[], int]:
    config = PretrainConfig(objective="minimax", conditional=True, quality_samples=0,
                            acceleration=acceleration).with_format(GREY)
    source = domains["mnist-grey"]
    task = GanTask(config, source.class_names, BatchStream((source.images, source.labels), config.batch_size, seed=0),
                   "cpu")
    return lambda: task.train_step(MIDWAY) and config.batch_size * config.critic_updates


def translator_step(domains, acceleration: Acceleration) -> Callable[[], int]:
    options = TranslationTraining()
    classifier = Classifier(TransferConfig().with_format(COLOUR).classifier_config(10))
    task = TranslationTask(options, domains["mnist"], domains["mnist-m"], classifier, seed=0, acceleration=acceleration)
    return lambda: task.train_step(MIDWAY) and options.batch_size


def dann_step(domains, acceleration: Acceleration, fmt: ImageFormat = COLOUR) -> Callable[[], int]:
    settings = TransferConfig(acceleration=acceleration).with_format(fmt)
    training, options = settings.training, DomainAdaptationOptions()
    source, target = domains["mnist"], domains["mnist-m"]
    classifier = Classifier(settings.classifier_config(10))
    task = DomainAdversarialTask(
        classifier,
        [LabelledSource("source", BatchStream((source.images, source.labels), training.batch_size, seed=0))],
        training, BatchStream((target.images,), training.batch_size, seed=1),
        domain_discriminator(classifier.config.trunk.feature_dim, options), options, ["source"],
        acceleration=acceleration)
    return lambda: task.train_step(MIDWAY) and 2 * training.batch_size  # a source and a target batch


STEPS = {"classifier": classifier_step, "cgan": gan_step, "translator": translator_step, "dann": dann_step}
#: the steps whose networks ``compile`` compiles (the translators' step calls its networks uncompiled)
COMPILED_STEPS = ("classifier", "cgan", "dann")


# -- measurement ---------------------------------------------------------------------------------------------


def build(step_builder, domains, variant: str) -> Callable[[], int]:
    acceleration, fused, _ = VARIANTS[variant]
    seed_everything(0)
    if fused:
        return step_builder(domains, acceleration)
    with unfused():
        return step_builder(domains, acceleration)


def run_steps(step: Callable[[], int], count: int, threads: int | None) -> tuple[int, float]:
    """(images, seconds) of ``count`` calls of ``step`` with ``threads`` intra-op threads."""
    everything = torch.get_num_threads()
    torch.set_num_threads(threads or everything)
    try:
        start, images = time.perf_counter(), 0
        for _ in range(count):
            images += step()
        return images, time.perf_counter() - start
    finally:
        torch.set_num_threads(everything)


def where_time_goes(step: Callable[[], int], count: int) -> dict[str, float]:
    """Shares of the step's self CPU time by part (``PARTS``), from ``torch.profiler``."""
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        run_steps(step, count, None)
    totals: dict[str, float] = {}
    for event in profiler.key_averages():
        name = event.key.lower()
        part = next((part for part, keys in PARTS if any(key in name for key in keys)), "other")
        totals[part] = totals.get(part, 0.0) + event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {part: round(100 * value / whole, 1) for part, value in sorted(totals.items(), key=lambda kv: -kv[1])}


def first_compiled_steps(builder, domains, baseline: Callable[[], int]) -> tuple[Callable[[], int], float]:
    """A compiled task, and the seconds its first two steps take beyond two eager ones."""
    eager = run_steps(baseline, 2, None)[1]
    step = build(builder, domains, "compiled")
    start = time.perf_counter()
    run_steps(step, 2, None)
    return step, round(time.perf_counter() - start - eager, 1)


def compile_time(name: str, builder, domains, baseline: Callable[[], int]) -> tuple[Callable[[], int], dict]:
    """A compiled task and its compile seconds: ``cold`` with an empty inductor cache, ``warm`` in a
    new process that finds the cache this one filled (what a second run of the same networks pays)."""
    cache = tempfile.mkdtemp(prefix="inductor-")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    torch._dynamo.reset()
    step, cold = first_compiled_steps(builder, domains, baseline)
    again = subprocess.run([sys.executable, __file__, "--warm-compile", name, "--keep-inductor-cache",
                            *sys.argv[1:]], env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache},
                           capture_output=True, text=True, check=True)
    return step, {"cold": cold, "warm": json.loads(again.stdout.strip().splitlines()[-1])}


def measure_step(name: str, domains, rounds: int, steps: int) -> dict[str, Any]:
    builder = STEPS[name]
    variants = [variant for variant in VARIANTS if variant != "compiled" or name in COMPILED_STEPS]
    tasks = {variant: build(builder, domains, variant) for variant in variants if variant != "compiled"}
    for variant, step in tasks.items():
        run_steps(step, 2, VARIANTS[variant][2])  # warm-up
    result: dict[str, Any] = {"compile_seconds": None, "compile_pays_after_images": None}
    if "compiled" in variants:
        tasks["compiled"], result["compile_seconds"] = compile_time(name, builder, domains, tasks["default"])
    speeds: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(rounds):
        for variant in variants:
            images, seconds = run_steps(tasks[variant], steps, VARIANTS[variant][2])
            speeds[variant].append(images / seconds)
    median = {variant: statistics.median(values) for variant, values in speeds.items()}
    result["images_per_second"] = {variant: round(value, 1) for variant, value in median.items()}
    result["ratio_to_before"] = {variant: round(value / median["before"], 2) for variant, value in median.items()}
    result["spread"] = {variant: round((max(v) - min(v)) / statistics.median(v), 2) for variant, v in speeds.items()}
    if "compiled" in variants:
        gain = 1.0 / median["default"] - 1.0 / median["compiled"]  # seconds saved per image
        result["compile_pays_after_images"] = round(result["compile_seconds"]["cold"] / gain) if gain > 0 else None
    result["profile_percent"] = where_time_goes(tasks["default"], max(3, steps // 2))
    return result


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, AMX {'yes' if torch.cpu._is_amx_tile_supported() else 'no'}")


def table(results: dict[str, Any]) -> str:
    variants = list(VARIANTS)
    lines = ["| step | " + " | ".join(variants) + " | compile s, cold / warm | compiling pays after |",
             "|---|" + "---|" * (len(variants) + 2)]
    for name, result in results["steps"].items():
        speed, ratio = result["images_per_second"], result["ratio_to_before"]
        cells = [f"{speed[v]:,.0f} ({ratio[v]:.2f}x)" if v in speed else "not compiled" for v in variants]
        pays, seconds = result["compile_pays_after_images"], result["compile_seconds"]
        compiling = f"{seconds['cold']} / {seconds['warm']}" if seconds else "-"
        after = f"{pays:,} images" if pays else ("never" if seconds else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {compiling} | {after} |")
    lines += ["", "Where the default step's CPU time goes (% of self time, torch.profiler):", ""]
    for name, result in results["steps"].items():
        lines.append(f"- {name}: " + ", ".join(f"{part} {share}" for part, share in result["profile_percent"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each variant per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (the median is reported)")
    parser.add_argument("--only", nargs="*", choices=list(STEPS), help="measure these steps only")
    parser.add_argument("--out", default="benchmarks/out/step-speed", help="folder of the JSON results")
    parser.add_argument("--keep-inductor-cache", action="store_true",
                        help="compile with the user's inductor cache (default: an empty one, for cold times)")
    parser.add_argument("--warm-compile", choices=COMPILED_STEPS, help=argparse.SUPPRESS)  # the warm-cache child
    parser.add_argument("--data-dir")
    parser.add_argument("--cache-dir")
    args = parser.parse_args()
    data = DataOptions(data_dir=args.data_dir, cache_dir=args.cache_dir)
    domains = {
        "mnist": load_domain("mnist", "train", COLOUR, data.data_dir, data.cache_dir),
        "mnist-grey": load_domain("mnist", "train", GREY, data.data_dir, data.cache_dir),
        "mnist-m": load_domain("mnist-m", "train", COLOUR, data.data_dir, data.cache_dir),
    }
    if args.warm_compile:
        baseline = build(STEPS[args.warm_compile], domains, "default")
        run_steps(baseline, 2, None)
        print(json.dumps(first_compiled_steps(STEPS[args.warm_compile], domains, baseline)[1]))
        return
    results: dict[str, Any] = {"machine": machine(), "load_before": os.getloadavg()[0], "steps": {}}
    print(results["machine"], flush=True)
    for name in args.only or STEPS:
        results["steps"][name] = measure_step(name, domains, args.rounds, args.steps)
        print(f"{name}: {results['steps'][name]['images_per_second']}", flush=True)
    results["load_after"] = os.getloadavg()[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "step_speed.json", results)
    print(table(results))


if __name__ == "__main__":
    main()
