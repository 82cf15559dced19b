"""Side by side, in one run: this library vs a plain-PyTorch reference of the same networks.

The reference is written the way pytorch/examples writes it: a torchvision
dataset, a ``DataLoader`` and per-sample (PIL) transforms, one loop. It
imports this library's ``Generator``, ``Discriminator`` and ``Classifier``
modules, so for the throughput and source-classifier parts only the data
path and the loop differ.

Parts (``--part``; each is stored in the JSON file as it finishes, so a long
session can run them one at a time; ``--force`` reruns a stored part):

- ``throughput``: training images per second of the conditional DCGAN
  (minimax, EMA generator) and of the source classifier (random affine
  augmentation), library / reference.
- ``source98``: seconds for the source classifier (same network, optimiser,
  schedule and augmentation on both sides) to reach 98 % MNIST test accuracy.
- ``dann84``: seconds to 84 % USPS test accuracy, MNIST -> USPS without target
  labels: the library's ``dann`` method (its real ``transfer()`` call,
  source-classifier stage included, from an empty stage cache) vs a plain
  DANN (the same classifier network, a gradient reversal layer, a domain MLP).
- ``best``: seconds for the library's best unsupervised method (``--best-config``)
  to reach 95 % and 98 % USPS test accuracy, stage training included.

Time-to-accuracy is measured by evaluating the target test set every
``--eval-every`` training steps. That is measurement only: the clock stops
while it runs, and it never selects a model or stops a run early for the
library's sake (a run stops when every threshold is reached or its time is up).
Peak memory is the resident set's high-water mark of each side (reset in
between on Linux), and the CUDA allocator's peak on a GPU.

    python benchmarks/speed_comparison.py --part throughput
    python benchmarks/speed_comparison.py --part source98
    python benchmarks/speed_comparison.py --part dann84
    python benchmarks/speed_comparison.py --part best
    python benchmarks/speed_comparison.py --part all --out benchmarks/out/speed
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms

from gantransfer.config import from_dict, load_yaml
from gantransfer.data import BatchStream, DataOptions, ImageFormat, load_domain
from gantransfer.data.locations import DataLocations
from gantransfer.engine.acceleration import Acceleration
from gantransfer.engine.device import resolve_device
from gantransfer.engine.seeding import seed_everything
from gantransfer.engine.trainer import Callback, Progress
from gantransfer.evaluation.classification import evaluate_classifier
from gantransfer.fileio import write_json
from gantransfer.methods import TransferConfig, transfer
from gantransfer.methods.stages import StageCache
from gantransfer.models import Classifier, Discriminator, Generator
from gantransfer.training.pretrain import GanTask, PretrainConfig
from gantransfer.training.supervised import ClassifierTask, LabelledSource

PARTS = ("throughput", "source98", "dann84", "best")

#: the library's best unsupervised MNIST -> USPS method; override with --best-config
BEST_DEFAULT: dict[str, Any] = {"method": "source-only", "self_train": True, "k": 0}


# -- measurement ------------------------------------------------------------------------------------------


def machine(device: torch.device) -> str:
    text = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, " \
           f"{torch.get_num_threads()} threads"
    if device.type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text


def reset_peak_memory(device: torch.device) -> None:
    """Start a new high-water mark: Linux resets the peak resident set on ``5 > clear_refs``."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # elsewhere the peak stays the process's whole-life peak
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict[str, float]:
    status = Path("/proc/self/status")
    rss = None
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
    if rss is None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak = {"peak_rss_mib": round(rss, 1)}
    if device.type == "cuda":
        peak["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return peak


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Reached(Exception):
    """Raised from inside a training loop once every threshold is met or time is up."""


class AccuracyClock(Callback):
    """Training seconds (evaluation excluded) until each accuracy threshold is first met.

    ``after_step(model)`` is called after every training step; every ``every``
    steps it evaluates ``model`` (clock stopped) and raises :class:`Reached`
    when all thresholds are met or ``max_seconds`` of training have passed. As a
    trainer callback it does so after every step of every classifier the
    library's own ``transfer()`` trains (its shared stages included), so the
    library runs unmodified under the clock.
    """

    def __init__(self, evaluate: Callable[[nn.Module], float], thresholds: tuple[float, ...], every: int,
                 max_seconds: float, device: torch.device) -> None:
        self.evaluate = evaluate
        self.thresholds = thresholds
        self.every = every
        self.max_seconds = max_seconds
        self.device = device
        self.reached: dict[float, float] = {}
        self.history: list[tuple[int, float, float]] = []
        self.steps = 0
        self.paused = 0.0
        self.started = time.perf_counter()

    def on_step_end(self, trainer, losses: dict[str, float]) -> None:
        if isinstance(trainer.task, ClassifierTask):
            self.after_step(trainer.task.final_model)

    def seconds(self) -> float:
        return time.perf_counter() - self.started - self.paused

    def after_step(self, model: nn.Module) -> None:
        self.steps += 1
        if self.steps % self.every:
            if self.seconds() > self.max_seconds:
                raise Reached
            return
        synchronize(self.device)
        elapsed = self.seconds()
        pause = time.perf_counter()
        accuracy = self.evaluate(model)
        self.history.append((self.steps, round(elapsed, 2), round(accuracy, 4)))
        for threshold in self.thresholds:
            if accuracy >= threshold and threshold not in self.reached:
                self.reached[threshold] = round(elapsed, 2)
        self.paused += time.perf_counter() - pause
        if len(self.reached) == len(self.thresholds) or elapsed > self.max_seconds:
            raise Reached

    def finished(self, accuracy: float) -> None:
        """Record the accuracy of a run that ended before meeting every threshold."""
        elapsed = self.seconds()
        self.history.append((self.steps, round(elapsed, 2), round(accuracy, 4)))
        for threshold in self.thresholds:
            if accuracy >= threshold and threshold not in self.reached:
                self.reached[threshold] = round(elapsed, 2)

    def result(self) -> dict[str, Any]:
        return {
            **{f"seconds_to_{round(t * 100)}": self.reached.get(t) for t in self.thresholds},
            "train_seconds": round(self.seconds(), 2),
            "steps": self.steps,
            "last_accuracy": self.history[-1][2] if self.history else None,
            "history": self.history,
        }


# -- the plain-PyTorch reference's data path ---------------------------------------------------------------


def to_unit(extra: list | None = None) -> transforms.Compose:
    """Per-sample transforms to the library's [-1, 1] range, the pytorch/examples way."""
    return transforms.Compose([*(extra or []), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])


def affine() -> transforms.RandomAffine:
    """The library's default digit augmentation, as a per-sample PIL transform."""
    return transforms.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1))


class USPSImages(Dataset):
    """USPS served like ``torchvision.datasets.USPS`` (one PIL image per item), read from ``usps.h5``."""

    def __init__(self, root: Path, train: bool, transform) -> None:
        import h5py

        with h5py.File(root / "USPS" / "usps.h5", "r") as handle:
            split = handle["train" if train else "test"]
            images = np.asarray(split["data"][()], dtype=np.float32).reshape(-1, 16, 16)
            self.targets = np.asarray(split["target"][()]).astype(np.int64)
        self.images = (images * 255).round().astype(np.uint8)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.images[index], mode="L")), int(self.targets[index])


def reference_set(name: str, root: Path, train: bool, extra: list | None = None) -> Dataset:
    if name == "mnist":
        return datasets.MNIST(str(root), train=train, download=False, transform=to_unit(extra))
    resize = [transforms.Resize(28)]  # USPS is 16 x 16; the protocol brings it to 28 x 28
    if (root / "USPS" / "usps.h5").is_file():
        return USPSImages(root, train, to_unit(resize + (extra or [])))
    return datasets.USPS(str(root / "USPS"), train=train, download=False, transform=to_unit(resize + (extra or [])))


def loader(dataset: Dataset, batch_size: int, workers: int, shuffle: bool = True) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, drop_last=shuffle)


def endless(data: DataLoader) -> Iterator:
    while True:
        yield from data


@torch.no_grad()
def reference_accuracy(model: nn.Module, data: DataLoader, device: torch.device) -> float:
    was_training = model.training
    model.eval()
    correct = total = 0
    for images, labels in data:
        correct += int((model(images.to(device)).argmax(1).cpu() == labels).sum())
        total += len(labels)
    model.train(was_training)
    return correct / total


# -- networks and settings shared by both sides --------------------------------------------------------------


#: MNIST's format, which a run on MNIST infers; fixed here because these networks are built without a run
DIGITS = ImageFormat(28, 1)


def gan_config(args) -> PretrainConfig:
    return PretrainConfig(objective="minimax", conditional=True, batch_size=args.gan_batch_size,
                          quality_samples=0, acceleration=Acceleration(str(args.device))).with_format(DIGITS)


def classifier_settings() -> TransferConfig:
    """The source classifier both sides train: the library's default network and training."""
    return TransferConfig().with_format(DIGITS)


def new_classifier(config: TransferConfig) -> Classifier:
    return Classifier(config.classifier_config(10))


# -- part: throughput -----------------------------------------------------------------------------------------


def timed_steps(step: Callable[[], int], steps: int, device: torch.device, warmup: int = 3) -> float:
    """Images per second over ``steps`` calls of ``step`` (which returns images used) after a warm-up."""
    for _ in range(warmup):
        step()
    synchronize(device)
    start, images = time.perf_counter(), 0
    for _ in range(steps):
        images += step()
    synchronize(device)
    return images / (time.perf_counter() - start)


def library_gan_throughput(args, data: DataOptions) -> dict[str, Any]:
    config = gan_config(args)
    seed_everything(args.seed)
    source = load_domain("mnist", "train", config.format, data.data_dir, data.cache_dir)
    task = GanTask(config, source.class_names, _stream(source, config.batch_size, args.seed), args.device)

    def step() -> int:
        task.train_step(Progress(0, 1))  # throughput: no schedule reads the progress
        return config.batch_size * config.critic_updates

    return {"images_per_second": round(timed_steps(step, args.throughput_steps, args.device), 1)}


def _stream(images, batch_size: int, seed: int) -> BatchStream:
    return BatchStream((images.images, images.labels), batch_size, seed=seed)


def reference_gan_throughput(args, root: Path) -> dict[str, Any]:
    """pytorch/examples dcgan's loop with this library's networks, objective and EMA."""
    config, device = gan_config(args), args.device
    seed_everything(args.seed)
    generator = Generator(config.generator_config(10)).to(device)
    discriminator = Discriminator(config.discriminator_config(10)).to(device)
    ema = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    g_opt = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.5, 0.999))
    batches = endless(loader(reference_set("mnist", root, True), config.batch_size, args.workers))

    def step() -> int:
        real, labels = next(batches)
        real, labels = real.to(device), labels.to(device)
        with torch.no_grad():
            fake = generator(torch.randn(len(real), config.latent_dim, device=device), labels)
        d_loss = F.softplus(-discriminator(real, labels)).mean() + F.softplus(discriminator(fake, labels)).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        fake = generator(torch.randn(len(real), config.latent_dim, device=device), labels)
        g_loss = F.softplus(-discriminator(fake, labels)).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        ema.update_parameters(generator)
        return len(real)

    return {"images_per_second": round(timed_steps(step, args.throughput_steps, device), 1)}


def library_classifier_throughput(args, data: DataOptions) -> dict[str, Any]:
    settings = classifier_settings()
    seed_everything(args.seed)
    source = load_domain("mnist", "train", settings.format, data.data_dir, data.cache_dir)
    training = settings.source_training
    sources = [LabelledSource("source", _stream(source, training.batch_size, args.seed))]
    task = ClassifierTask(new_classifier(settings), sources, training, device=args.device)

    def step() -> int:
        task.train_step(Progress(0, 1))
        return training.batch_size

    return {"images_per_second": round(timed_steps(step, args.throughput_steps, args.device), 1)}


def reference_classifier_loop(settings: TransferConfig, args, root: Path):
    """The plain loop's pieces: network, optimiser, schedule, augmented MNIST batches."""
    training = settings.source_training
    model = new_classifier(settings).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), training.optimizer.lr, betas=training.optimizer.betas)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=training.steps)
    batches = endless(loader(reference_set("mnist", root, True, [affine()]), training.batch_size, args.workers))

    def step() -> int:
        images, labels = next(batches)
        loss = F.cross_entropy(model(images.to(args.device)), labels.to(args.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return len(images)

    return model, step


def reference_classifier_throughput(args, root: Path) -> dict[str, Any]:
    seed_everything(args.seed)
    _, step = reference_classifier_loop(classifier_settings(), args, root)
    return {"images_per_second": round(timed_steps(step, args.throughput_steps, args.device), 1)}


def run_throughput(args, data: DataOptions, root: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, library, reference in (
        ("gan", library_gan_throughput, reference_gan_throughput),
        ("classifier", library_classifier_throughput, reference_classifier_throughput),
    ):
        sides = {}
        for side, measure, source in (("library", library, data), ("reference", reference, root)):
            reset_peak_memory(args.device)
            sides[side] = {**measure(args, source), **peak_memory(args.device)}
            print(f"  {name} {side}: {sides[side]}", flush=True)
        ratio = sides["library"]["images_per_second"] / sides["reference"]["images_per_second"]
        result[name] = {**sides, "ratio": round(ratio, 2)}
    return result


# -- part: source98 --------------------------------------------------------------------------------------------


def library_evaluator(domain: str, data: DataOptions, fmt: ImageFormat = DIGITS):
    test = load_domain(domain, "test", fmt, data.data_dir, data.cache_dir)
    return lambda model: evaluate_classifier(model, test).accuracy


def reference_evaluator(domain: str, root: Path, device: torch.device):
    test = loader(reference_set(domain, root, False), 1000, 0, shuffle=False)
    return lambda model: reference_accuracy(model, test, device)


def run_source98(args, data: DataOptions, root: Path) -> dict[str, Any]:
    settings = classifier_settings()
    sides: dict[str, Any] = {}

    reset_peak_memory(args.device)
    seed_everything(args.seed)
    clock = AccuracyClock(library_evaluator("mnist", data), (0.98,), args.eval_every, args.max_seconds, args.device)
    with tempfile.TemporaryDirectory() as stages:
        try:
            # The library's shared source-classifier stage, data loading included, from an empty cache.
            source = load_domain("mnist", "train", settings.format, data.data_dir, data.cache_dir)
            StageCache(Path(stages)).source_classifier(source, "mnist", lambda: new_classifier(settings),
                                                       settings.source_training, args.seed, str(args.device),
                                                       progress_bar=False, callbacks=[clock])
        except Reached:
            pass
    sides["library"] = {**clock.result(), **peak_memory(args.device)}
    print(f"  library: {_short(sides['library'])}", flush=True)

    reset_peak_memory(args.device)
    seed_everything(args.seed)
    clock = AccuracyClock(reference_evaluator("mnist", root, args.device), (0.98,), args.eval_every,
                          args.max_seconds, args.device)
    model, step = reference_classifier_loop(settings, args, root)
    try:
        for _ in range(settings.source_training.steps):
            step()
            clock.after_step(model)
    except Reached:
        pass
    sides["reference"] = {**clock.result(), **peak_memory(args.device)}
    print(f"  reference: {_short(sides['reference'])}", flush=True)
    return {**sides, "ratio": _time_ratio(sides, "seconds_to_98")}


# -- part: dann84 ----------------------------------------------------------------------------------------------


class GradientReversal(torch.autograd.Function):
    """Identity forward, ``-coefficient * gradient`` backward (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x: Tensor, coefficient: float) -> Tensor:
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.coefficient * grad, None


def reference_dann(args, root: Path, clock: AccuracyClock) -> None:
    """A plain DANN: the library's classifier network, a 2-hidden-layer domain MLP on its
    features through a gradient reversal layer with Ganin's schedule, Adam, 5 epochs of
    MNIST at batch 64, unlabelled USPS train batches; no augmentation, no pretraining."""
    device, settings = args.device, classifier_settings()
    model = new_classifier(settings).to(device)
    feature_dim = settings.classifier.feature_dim
    domain = nn.Sequential(nn.Linear(feature_dim, 500), nn.ReLU(), nn.Linear(500, 500), nn.ReLU(),
                           nn.Linear(500, 1)).to(device)
    optimizer = torch.optim.Adam([*model.parameters(), *domain.parameters()], 1e-3)
    source = loader(reference_set("mnist", root, True), 64, args.workers)
    target = endless(loader(reference_set("usps", root, True), 64, args.workers))
    total = 5 * len(source)
    step = 0
    for _ in range(5):
        for images, labels in source:
            target_images, _ = next(target)
            progress = step / total
            coefficient = 2 / (1 + math.exp(-10 * progress)) - 1
            features = model.features(torch.cat([images, target_images]).to(device))
            logits = model.head(features[: len(images)])
            domain_logits = domain(GradientReversal.apply(features, coefficient)).squeeze(1)
            domain_labels = torch.cat([torch.ones(len(images)), torch.zeros(len(target_images))]).to(device)
            loss = F.cross_entropy(logits, labels.to(device)) + \
                F.binary_cross_entropy_with_logits(domain_logits, domain_labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            clock.after_step(model)


def library_time_to_accuracy(args, data: DataOptions, config: TransferConfig,
                             thresholds: tuple[float, ...]) -> dict[str, Any]:
    """The library's real ``transfer()`` under the clock, from an empty stage cache."""
    reset_peak_memory(args.device)
    seed_everything(args.seed)
    fmt = ImageFormat(config.image_size or DIGITS.size, config.channels or DIGITS.channels)
    clock = AccuracyClock(library_evaluator(config.target, data, fmt), thresholds, args.eval_every,
                          args.max_seconds, args.device)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            metrics = transfer(config, Path(scratch) / "run", data, stages_dir=Path(scratch) / "stages",
                               progress_bar=False, callbacks=[clock])
            clock.finished(metrics["target_test_accuracy"])
        except Reached:
            pass
    return {**clock.result(), **peak_memory(args.device), "config": {"method": config.method, "k": config.k,
                                                                     "self_train": config.self_train}}


def run_dann84(args, data: DataOptions, root: Path) -> dict[str, Any]:
    sides: dict[str, Any] = {}
    config = TransferConfig(method="dann", k=0, seed=args.seed, acceleration=Acceleration(str(args.device)))
    sides["library"] = library_time_to_accuracy(args, data, config, (0.84,))
    print(f"  library: {_short(sides['library'])}", flush=True)

    reset_peak_memory(args.device)
    seed_everything(args.seed)
    clock = AccuracyClock(reference_evaluator("usps", root, args.device), (0.84,), args.eval_every,
                          args.max_seconds, args.device)
    try:
        reference_dann(args, root, clock)
    except Reached:
        pass
    sides["reference"] = {**clock.result(), **peak_memory(args.device)}
    print(f"  reference: {_short(sides['reference'])}", flush=True)
    return {**sides, "ratio": _time_ratio(sides, "seconds_to_84")}


# -- part: best ------------------------------------------------------------------------------------------------


def run_best(args, data: DataOptions, root: Path) -> dict[str, Any]:
    values = load_yaml(args.best_config) if args.best_config else dict(BEST_DEFAULT)
    config = from_dict(TransferConfig, {"seed": args.seed, "acceleration": {"device": str(args.device)}, **values},
                       where=args.best_config or "best config")
    if config.k != 0:
        raise SystemExit("--best-config must use no target labels (k: 0)")
    result = library_time_to_accuracy(args, data, config, (0.95, 0.98))
    print(f"  library: {_short(result)}", flush=True)
    return {"library": result}


# -- the report ------------------------------------------------------------------------------------------------


def _time_ratio(sides: dict[str, Any], key: str) -> float | None:
    """reference seconds / library seconds (how many times sooner the library gets there)."""
    library, reference = sides["library"].get(key), sides["reference"].get(key)
    if library is None or reference is None or library <= 0:
        return None
    return round(reference / library, 2)


def _short(side: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in side.items() if k != "history"}


def table(results: dict[str, Any]) -> str:
    rows = [("measure", "library", "reference", "ratio", "peak RSS MiB lib / ref")]

    def mem(part: dict, side: str) -> str:
        return str(part.get(side, {}).get("peak_rss_mib", "-"))

    def seconds(side: dict, key: str) -> str:
        if "error" in side:
            return side["error"]
        value = side.get(key)
        return f"{value:.1f} s" if value is not None else f"not in {side.get('train_seconds', '?')} s"

    parts = results.get("parts", {})
    if "throughput" in parts:
        for name in ("gan", "classifier"):
            part = parts["throughput"][name]
            rows.append((f"{name} training, images/s", f"{part['library']['images_per_second']:.0f}",
                         f"{part['reference']['images_per_second']:.0f}", f"{part['ratio']:.2f}x",
                         f"{mem(part, 'library')} / {mem(part, 'reference')}"))
    for key, label, measure in (("source98", "source classifier to 98 % (MNIST)", "seconds_to_98"),
                                ("dann84", "DANN to 84 % (MNIST->USPS)", "seconds_to_84")):
        if key in parts:
            part = parts[key]
            ratio = part.get("ratio")
            rows.append((label, seconds(part["library"], measure), seconds(part["reference"], measure),
                         f"{ratio:.2f}x" if ratio else "-", f"{mem(part, 'library')} / {mem(part, 'reference')}"))
    if "best" in parts:
        side = parts["best"]["library"]
        name = side.get("config", {}).get("method", "?")
        for measure in ("seconds_to_95", "seconds_to_98"):
            rows.append((f"best ({name}) to {measure[-2:]} % (MNIST->USPS, k=0)", seconds(side, measure), "-", "-",
                         f"{side.get('peak_rss_mib', '-')} / -"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--out", default="benchmarks/out/speed", help="folder of speed_comparison.json")
    parser.add_argument("--force", action="store_true", help="rerun parts already stored")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (both sides use it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads")
    parser.add_argument("--workers", type=int, default=0,
                        help="DataLoader worker processes of the reference (pytorch/examples uses 0 on CPU)")
    parser.add_argument("--gan-batch-size", type=int, default=64)
    parser.add_argument("--throughput-steps", type=int, default=30)
    parser.add_argument("--eval-every", type=int, default=100, help="training steps between test evaluations")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="training-time limit of each side")
    parser.add_argument("--best-config", help="YAML of TransferConfig values for --part best")
    parser.add_argument("--data-dir")
    parser.add_argument("--cache-dir")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.device = resolve_device(args.device)
    data = DataOptions(args.data_dir, args.cache_dir)
    root = DataLocations.resolve(args.data_dir, args.cache_dir).data_dir  # where the reference's torchvision reads
    if root is None:
        raise SystemExit("set --data-dir or $GANTRANSFER_DATA: the reference reads MNIST/ and USPS/ from there")
    out = Path(args.out)
    path = out / "speed_comparison.json"
    results = json.loads(path.read_text()) if path.is_file() else {"parts": {}}
    runners = {"throughput": run_throughput, "source98": run_source98, "dann84": run_dann84, "best": run_best}
    for part in PARTS if args.part == "all" else (args.part,):
        if part in results["parts"] and not args.force:
            print(f"{part}: stored in {path} (--force reruns it)")
            continue
        print(f"{part}:", flush=True)
        started = time.time()
        results["parts"][part] = {**runners[part](args, data, root), "wall_seconds": round(time.time() - started, 1),
                                  "machine": machine(args.device), "device": str(args.device),
                                  "workers": args.workers, "eval_every": args.eval_every,
                                  "max_seconds": args.max_seconds, "seed": args.seed}
        write_json(path, results)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
