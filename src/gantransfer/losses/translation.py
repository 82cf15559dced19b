"""Losses of image-to-image translation between two domains, as pure functions.

``G_st`` maps source images to the target style and ``G_ts`` back. The
adversarial terms come from :mod:`.adversarial`; these are the terms that
tie a translation to the image it came from.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def cycle_consistency_loss(original: Tensor, reconstructed: Tensor) -> Tensor:
    """``E |x - G_ts(G_st(x))|``: mean absolute difference (CycleGAN, Zhu et al. 2017, eq. 2).

    Args:
        original: images (N, C, H, W) in [-1, 1].
        reconstructed: the same images after a round trip through both translators.

    Returns:
        A scalar in [0, 2]: 0 for a perfect reconstruction.

    The same L1 distance between an image and the *other* direction's
    translation of it, ``|x_t - G_st(x_t)|``, is CycleGAN's identity loss,
    which keeps a translator from changing what is already in its output style.
    """
    return (original - reconstructed).abs().mean()


def semantic_consistency_loss(translated_logits: Tensor, original_logits: Tensor) -> Tensor:
    """Cross-entropy of a frozen classifier on translated images against its own
    hard labels for the originals (CyCADA, Hoffman et al. 2018, eq. 4).

    ``CE(f(G(x)), argmax f(x))`` averaged over the batch: zero when the
    classifier is certain that every translation shows the class it saw in
    the original, so a translator cannot turn a 3 into a USPS-style 8.

    Args:
        translated_logits: float (N, K), the classifier on the translated
            images; gradients flow through it to the translator.
        original_logits: float (N, K), the classifier on the original images;
            only their arg-max is used, so no gradient reaches them.

    Returns:
        A scalar >= 0.
    """
    return F.cross_entropy(translated_logits, original_logits.detach().argmax(dim=1))


def foreground_mask(images: Tensor, threshold: float = 0.0) -> Tensor:
    """Pixels brighter than ``threshold`` (in [-1, 1]; 0 is mid-grey), averaged over channels:
    the strokes of digits on a dark ground. float (N, 1, H, W) of 0 and 1 from (N, C, H, W)."""
    return (images.mean(dim=1, keepdim=True) > threshold).to(images.dtype)


def masked_pairwise_mse(original: Tensor, translated: Tensor, mask: Tensor) -> Tensor:
    """PixelDA's content-similarity loss (Bousmalis et al. 2017, eq. 4): pairwise mean squared
    error between an image and its translation on the masked pixels only.

    With ``d = (x - G(x)) * m`` and ``k`` the number of masked values of an image,
    ``(1/k) sum d^2 - (1/k^2) (sum d)^2``: the variance of the difference over the
    mask, so a translation may shift the masked pixels' brightness or colour as a
    whole (a digit turned red) but not change their shapes (a digit painted over).

    Args:
        original, translated: images (N, C, H, W) in [-1, 1].
        mask: (N, 1, H, W) of 0 and 1, the pixels that must keep their content
            (broadcast over channels).

    Returns:
        A scalar >= 0, the mean over images; an image with an empty mask adds 0.
    """
    mask = mask.expand_as(original)
    difference = (original - translated) * mask
    count = mask.flatten(1).sum(1).clamp(min=1)
    mean_square = difference.pow(2).flatten(1).sum(1) / count
    square_mean = (difference.flatten(1).sum(1) / count).pow(2)
    return (mean_square - square_mean).clamp(min=0).mean()
