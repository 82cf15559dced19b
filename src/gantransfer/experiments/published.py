"""Reference numbers from other work, shown beside ours in the report but never mixed with them.

Taken from the benchmark protocol (``docs/protocol.md``, "Published
reference points" and "Measured on this machine with plain PyTorch").
Protocols differ between papers (2,000 / 1,800-image subsets in ADDA and
FADA, full sets in CyCADA and SHOT), so a row says where it comes from, and
"recalled" marks numbers quoted from memory rather than checked in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_TARGET_LABELS = "no target labels, unlabelled target images"
FEW_LABELS = "k target labels only"


@dataclass(frozen=True)
class Reference:
    """One reference accuracy (in %, as text: a value, a range, or ``about`` a value)."""

    source: str
    target: str
    method: str
    setting: str
    k: str
    accuracy: str
    where: str


_PLAIN = "plain PyTorch LeNet, 3 seeds, measured for the protocol (not this library)"

REFERENCES: tuple[Reference, ...] = (
    Reference("mnist", "usps", "source-only (LeNet)", "no target data", "0", "75-82", "as reported across papers"),
    Reference("mnist", "usps", "DANN", NO_TARGET_LABELS, "0", "77.1", "as reported by ADDA (Tzeng et al. 2017)"),
    Reference("mnist", "usps", "DANN", NO_TARGET_LABELS, "0", "91.7", "Transfer-Learning-Library tables"),
    Reference("mnist", "usps", "ADDA", NO_TARGET_LABELS, "0", "89.4", "Tzeng et al. 2017 (2,000 / 1,800 images)"),
    Reference("mnist", "usps", "CoGAN", NO_TARGET_LABELS, "0", "91.2", "as reported by ADDA"),
    Reference("mnist", "usps", "CyCADA", NO_TARGET_LABELS, "0", "95.6", "Hoffman et al. 2018 (full sets)"),
    Reference("mnist", "usps", "PixelDA", NO_TARGET_LABELS, "0", "95.9", "Bousmalis et al. 2017"),
    Reference("mnist", "usps", "SBADA-GAN", NO_TARGET_LABELS, "0", "97.6", "Russo et al. 2018"),
    Reference("mnist", "usps", "SHOT", NO_TARGET_LABELS, "0", "98.0", "Liang et al. 2020 (full sets)"),
    Reference("mnist", "usps", "self-ensembling", NO_TARGET_LABELS, "0", "about 98.3",
              "French et al. 2018 (recalled)"),
    Reference("mnist", "usps", "FADA", FEW_LABELS, "1", "about 89", "Motiian et al. 2017, 2,000 / 1,800 images (recalled)"),
    Reference("mnist", "usps", "FADA", FEW_LABELS, "7", "about 94", "Motiian et al. 2017, 2,000 / 1,800 images (recalled)"),
    Reference("mnist", "usps", "source-only", "no target data", "0", "81.1 ± 1.7", _PLAIN),
    Reference("mnist", "usps", "target-only", FEW_LABELS, "1 / 5 / 10", "52.4 / 68.8 / 77.3", _PLAIN),
    Reference("mnist", "usps", "finetune", FEW_LABELS, "1 / 5 / 10", "87.9 / 91.6 / 92.5", _PLAIN),
    Reference("mnist", "usps", "oracle (all target labels)", "all target labels", "all", "96.3 ± 0.2", _PLAIN),
    Reference("mnist", "usps", "DANN (5 epochs)", NO_TARGET_LABELS, "0", "84.1 ± 0.8", _PLAIN),
    Reference("usps", "mnist", "ADDA", NO_TARGET_LABELS, "0", "90.1", "Tzeng et al. 2017 (2,000 / 1,800 images)"),
    Reference("usps", "mnist", "CyCADA", NO_TARGET_LABELS, "0", "96.5", "Hoffman et al. 2018 (full sets)"),
    Reference("usps", "mnist", "SHOT", NO_TARGET_LABELS, "0", "98.4", "Liang et al. 2020 (full sets)"),
    Reference("usps", "mnist", "self-ensembling", NO_TARGET_LABELS, "0", "about 99.5",
              "French et al. 2018 (recalled)"),
)


def references_for(source: str | None, target: str | None) -> list[Reference]:
    """The reference numbers of a direction between built-in domains (none for custom domains)."""
    if not source or not target:
        return []
    return [r for r in REFERENCES if r.source == source.lower() and r.target == target.lower()]
