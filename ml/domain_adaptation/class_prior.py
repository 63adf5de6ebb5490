"""A label-free guard for adversarial adaptation: how far the target predictions' class proportions are
from the source labels' proportions.

Adversarial training can reach domain-invariant features by degrading the target's segmentation (a
collapse: the target's structures shrink, vanish or swell). The same anatomy is imaged on both sides, so
the target's predicted class proportions should stay near the source's labelled ones; their KL divergence
scores a checkpoint without any target label.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

_EPS = 1e-6


def class_proportions(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(K,) fraction of the pixels of each class 0..K-1 in integer labels of any shape."""
    counts = np.bincount(np.asarray(labels).ravel().astype(np.int64), minlength=n_classes)[:n_classes]
    return counts / max(int(counts.sum()), 1)


def prior_divergence(reference: np.ndarray, predicted: np.ndarray) -> float:
    """KL(reference || predicted) in nats between two (K,) class distributions (floored at 1e-6, renormed)."""
    p = np.clip(np.asarray(reference, np.float64), _EPS, None)
    q = np.clip(np.asarray(predicted, np.float64), _EPS, None)
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


@dataclass
class PriorCheckpoints:
    """Keeps the weights whose target predictions' class proportions are closest to `reference`, among the
    steps offered from `first_step` on. `log` holds (step, divergence) per offer."""

    reference: np.ndarray
    first_step: int = 0
    best_step: int | None = None
    best_divergence: float = float("inf")
    best_state: dict[str, torch.Tensor] | None = None
    log: list[tuple[int, float]] = field(default_factory=list)

    def offer(self, step: int, model: nn.Module, predicted: np.ndarray) -> float:
        """predicted: (K,) class proportions of `model`'s target predictions at `step`."""
        d = prior_divergence(self.reference, predicted)
        self.log.append((step, round(d, 5)))
        if step >= self.first_step and d < self.best_divergence:
            self.best_step, self.best_divergence = step, d
            self.best_state = copy.deepcopy(model.state_dict())
        return d
