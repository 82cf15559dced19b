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
