"""How much of the 28 x 28 frame do a domain's digits fill?

Prints the mean height and width of the ink's bounding box (pixels above the
background) over the first ``--images`` test images of each domain, as the
library loads them (USPS resized from 16 x 16). The ratio between two domains
is the zoom a classifier must tolerate to read one with what it learnt on the
other; it is why `examples/mnist_usps_long.yaml` widens the random zoom.

    GANTRANSFER_DATA=PATH/TO/datasets python benchmarks/digit_size.py mnist usps
"""

from __future__ import annotations

import argparse

from torch import Tensor

from gantransfer.data import ImageFormat, load_domain, to_model_range


def ink_box(images: Tensor, background: float = -0.5) -> tuple[Tensor, Tensor]:
    """Height and width (N,) in pixels of each image's ink bounding box; images (N, 1, H, W) in [-1, 1]."""
    ink = images[:, 0] > background
    return ink.any(dim=2).sum(dim=1).float(), ink.any(dim=1).sum(dim=1).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domains", nargs="+")
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    for domain in args.domains:
        test = load_domain(domain, "test", ImageFormat(28, 1))
        height, width = ink_box(to_model_range(test.images[: args.images]))
        print(f"{domain}: ink box {height.mean():.1f} x {width.mean():.1f} pixels (height x width) of 28 x 28")


if __name__ == "__main__":
    main()
