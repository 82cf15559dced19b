"""Time to the same accuracy: this library's DANN against peers on the same task, in one process.

Peers (each with its own networks and recipe, on the same images):

- ``pytorch-adapt``: its ``DANNHook`` with its MNIST networks (``MNISTFeatures``, a 3-layer MLP
  classifier and domain discriminator), its MNIST transform (32 px, grey to RGB, ImageNet
  normalisation) and Adam at 1e-4, as its examples use them. Needs
  ``pip install --no-deps -r benchmarks/peers/requirements.txt``; skipped, with a line saying so,
  where it is missing.
- ``plain``: a plain-PyTorch DANN written the pytorch/examples way: its own LeNet (Ganin et al.
  2016's MNIST network: two 5 x 5 convolutions, a 100-unit head), a gradient reversal layer with
  Ganin's schedule, a ``DataLoader``, Adam at 1e-3.

Each peer trains for ``--peer-steps`` steps (a source and a target batch of 64 each) or
``--max-seconds``; its accuracy on the target test set at the end is its final accuracy. The
library then runs its real ``transfer(method="dann")`` from an empty stage cache (source-classifier
stage included) and the table gives its training time to each peer's final accuracy. The target
test set is evaluated every ``--eval-every`` steps with the clock stopped: measurement only, it
never selects a model or stops a run early for anyone's sake (a run stops when every threshold is
met or its time is up). Images/s are training images (source + target) per second; the library's
are its DANN step's (``benchmarks/step_speed.py``'s builder, the pair's image format).

    python benchmarks/peer_speed.py --out benchmarks/results/peer-speed
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from gantransfer.config import from_dict, merge, to_dict
from gantransfer.data import DataOptions, ImageFormat, load_domain
from gantransfer.engine.acceleration import Acceleration
from gantransfer.engine.seeding import seed_everything
from gantransfer.fileio import write_json
from gantransfer.methods import TransferConfig

from speed_comparison import AccuracyClock, GradientReversal, Reached, library_time_to_accuracy, machine, \
    peak_memory, reset_peak_memory
from step_speed import dann_step, run_steps

#: pair -> (target, image format, the library's TransferConfig diff: the recipe's per-pair setting)
PAIRS: dict[str, tuple[str, ImageFormat, dict[str, Any]]] = {
    "mnist-mnist-m": ("mnist-m", ImageFormat(28, 3), {
        "source_training": {"augment": {"degrees": 0.0, "translate": 0.0, "scale": 0.0}},
        "training": {"augment": {"degrees": 0.0, "translate": 0.0, "scale": 0.0}}}),
    "mnist-usps": ("usps", ImageFormat(28, 1), {}),
}
BATCH = 64
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CPU = torch.device("cpu")


def batches(images: Tensor, labels: Tensor, seed: int) -> Any:
    """Endless shuffled batches of uint8 images and labels through a ``DataLoader``."""
    loader = DataLoader(TensorDataset(images, labels), batch_size=BATCH, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))
    while True:
        yield from loader


def accuracy_of(predict, images: Tensor, labels: Tensor) -> float:
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), 1000):
            correct += int((predict(images[start:start + 1000]).argmax(1) == labels[start:start + 1000]).sum())
    return correct / len(images)


def source_and_target(data: dict[str, Tensor]) -> tuple[Any, Any]:
    """A peer's endless labelled source batches and target batches (whose labels it never reads)."""
    return (batches(data["source_images"], data["source_labels"], 0),
            batches(data["target_images"], data["target_labels"], 1))


def test_accuracy(data: dict[str, Tensor], models: dict[str, nn.Module], predict):
    """The clock's evaluation: ``predict``'s accuracy on the target test set, ``models`` in eval mode."""

    def evaluate(_) -> float:
        for model in models.values():
            model.eval()
        try:
            return accuracy_of(predict, data["test_images"], data["test_labels"])
        finally:
            for model in models.values():
                model.train()

    return evaluate


# -- peer: pytorch-adapt ------------------------------------------------------------------------------------


def adapt_inputs(images: Tensor) -> Tensor:
    """pytorch-adapt's MNIST transform on a uint8 batch: 32 px, RGB, ImageNet normalisation."""
    x = F.interpolate(images.float() / 255, size=32, mode="bilinear", align_corners=False)
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def pytorch_adapt_dann(data: dict[str, Tensor], args, clock: AccuracyClock) -> int:
    from pytorch_adapt.hooks import DANNHook
    from pytorch_adapt.models import Classifier, Discriminator, MNISTFeatures

    models = {"G": MNISTFeatures(), "C": Classifier(num_classes=10, in_size=1200, h=256),
              "D": Discriminator(in_size=1200, h=256)}
    optimizers = [torch.optim.Adam(model.parameters(), lr=1e-4) for model in models.values()]
    hook = DANNHook(optimizers)
    clock.evaluate = test_accuracy(data, models, lambda images: models["C"](models["G"](adapt_inputs(images))))
    source, target = source_and_target(data)
    for step in range(args.peer_steps):
        (source_images, source_labels), (target_images, _) = next(source), next(target)
        hook({**models, "src_imgs": adapt_inputs(source_images), "src_labels": source_labels,
              "target_imgs": adapt_inputs(target_images),
              "src_domain": torch.zeros(BATCH), "target_domain": torch.ones(BATCH)})
        clock.after_step(None)
    return args.peer_steps


# -- peer: plain PyTorch ------------------------------------------------------------------------------------


class LeNet(nn.Module):
    """Ganin et al. (2016)'s MNIST network: features (two 5 x 5 convolutions) and a 100-unit head."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 48, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(48 * 4 * 4, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                                  nn.Linear(100, 10))

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))


def plain_dann(data: dict[str, Tensor], args, clock: AccuracyClock) -> int:
    channels = data["source_images"].shape[1]
    model = LeNet(channels)
    domain = nn.Sequential(nn.Linear(48 * 4 * 4, 100), nn.ReLU(), nn.Linear(100, 1))
    optimizer = torch.optim.Adam([*model.parameters(), *domain.parameters()], lr=1e-3)
    to_input = lambda images: images.float() / 127.5 - 1
    clock.evaluate = test_accuracy(data, {"model": model}, lambda images: model(to_input(images)))
    source, target = source_and_target(data)
    for step in range(args.peer_steps):
        (source_images, source_labels), (target_images, _) = next(source), next(target)
        features = model.features(to_input(torch.cat([source_images, target_images])))
        logits = model.head(features[:BATCH])
        coefficient = 2 / (1 + math.exp(-10 * step / args.peer_steps)) - 1  # Ganin et al.'s schedule, 0 -> 1
        reversed_features = GradientReversal.apply(features, coefficient)
        domain_labels = torch.cat([torch.ones(BATCH), torch.zeros(BATCH)])
        loss = F.cross_entropy(logits, source_labels) + F.binary_cross_entropy_with_logits(
            domain(reversed_features).squeeze(1), domain_labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        clock.after_step(None)
    return args.peer_steps


PEERS = {"pytorch-adapt": pytorch_adapt_dann, "plain": plain_dann}


# -- the comparison -----------------------------------------------------------------------------------------


def pair_data(pair: str, options: DataOptions) -> dict[str, Tensor]:
    target, fmt, _ = PAIRS[pair]
    source_train = load_domain("mnist", "train", fmt, options.data_dir, options.cache_dir)
    target_train = load_domain(target, "train", fmt, options.data_dir, options.cache_dir)
    target_test = load_domain(target, "test", fmt, options.data_dir, options.cache_dir)
    return {"source_images": source_train.images, "source_labels": source_train.labels,
            "target_images": target_train.images, "target_labels": target_train.labels,  # labels never read
            "test_images": target_test.images, "test_labels": target_test.labels}


def run_peer(name: str, data: dict[str, Tensor], args) -> dict[str, Any]:
    reset_peak_memory(CPU)
    seed_everything(args.seed)
    # A threshold never met: a peer runs its whole budget (or its time); the peer sets the evaluation.
    clock = AccuracyClock(lambda _: 0.0, (2.0,), args.eval_every, args.max_seconds, CPU)
    steps = 0
    try:
        steps = PEERS[name](data, args, clock)
    except Reached:
        steps = clock.steps
    seconds = clock.seconds()
    final = clock.evaluate(None)
    clock.finished(final)
    return {**clock.result(), "final_accuracy": round(final, 4),
            "images_per_second": round(2 * BATCH * steps / seconds, 1), **peak_memory(CPU)}


def library_step_speed(pair: str, options: DataOptions) -> float:
    target, fmt, _ = PAIRS[pair]
    domains = {"mnist": load_domain("mnist", "train", fmt, options.data_dir, options.cache_dir),
               target: load_domain(target, "train", fmt, options.data_dir, options.cache_dir)}
    domains["mnist-m"] = domains[target]  # the builder's name for the target
    step = dann_step(domains, Acceleration("cpu"), fmt)
    run_steps(step, 3, None)
    images, seconds = run_steps(step, 30, None)
    return round(images / seconds, 1)


def compare(pair: str, args, options: DataOptions) -> dict[str, Any]:
    data = pair_data(pair, options)
    peers = {}
    for name in PEERS:
        if name == "pytorch-adapt" and not has_pytorch_adapt():
            print(f"  {pair} pytorch-adapt: not installed (pip install --no-deps -r benchmarks/peers/requirements.txt)")
            continue
        peers[name] = run_peer(name, data, args)
        print(f"  {pair} {name}: final {peers[name]['final_accuracy']:.4f} after {peers[name]['train_seconds']} s",
              flush=True)
    target, fmt, diff = PAIRS[pair]
    config = TransferConfig(source="mnist", target=target, method="dann", k=0, seed=args.seed,
                            image_size=fmt.size, channels=fmt.channels, acceleration=Acceleration("cpu"))
    config = from_dict(TransferConfig, merge(to_dict(config), diff))
    thresholds = tuple(sorted({peer["final_accuracy"] for peer in peers.values()}))
    library = library_time_to_accuracy(args, options, config, thresholds)
    library["images_per_second"] = library_step_speed(pair, options)
    print(f"  {pair} library: {dict((k, v) for k, v in library.items() if k != 'history')}", flush=True)
    for peer in peers.values():
        reached = library.get(f"seconds_to_{round(peer['final_accuracy'] * 100)}")
        peer["library_seconds_to_final"] = reached
        peer["library_sooner"] = round(peer["train_seconds"] / reached, 2) if reached else None
    return {"peers": peers, "library": library}


def has_pytorch_adapt() -> bool:
    try:
        import pytorch_adapt  # noqa: F401
    except ImportError:
        return False
    return True


def table(results: dict[str, Any]) -> str:
    lines = ["| pair | peer | peer's final accuracy | peer's time | library's time to it | sooner "
             "| images/s, peer / library |",
             "|---|---|---|---|---|---|---|"]
    for pair, result in results["pairs"].items():
        library = result["library"]
        for name, peer in result["peers"].items():
            reached = peer["library_seconds_to_final"]
            lines.append(
                f"| {pair} | {name} | {100 * peer['final_accuracy']:.1f} % | {peer['train_seconds']:.0f} s | "
                + (f"{reached:.0f} s | {peer['library_sooner']:.1f}x |" if reached else "not reached | - |")
                + f" {peer['images_per_second']:,.0f} / {library['images_per_second']:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="*", choices=list(PAIRS), default=list(PAIRS))
    parser.add_argument("--peer-steps", type=int, default=4000, help="each peer's training steps (batch 64 + 64)")
    parser.add_argument("--eval-every", type=int, default=250, help="steps between test evaluations (clock stopped)")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="training-time limit of each side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/out/peer-speed")
    parser.add_argument("--data-dir")
    parser.add_argument("--cache-dir")
    args = parser.parse_args()
    args.device = CPU
    options = DataOptions(data_dir=args.data_dir, cache_dir=args.cache_dir)
    results: dict[str, Any] = {"machine": machine(CPU), "pairs": {}}
    print(results["machine"], flush=True)
    for pair in args.pairs:
        results["pairs"][pair] = compare(pair, args, options)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "peer_speed.json", results)
    print(table(results))


if __name__ == "__main__":
    main()
