"""Segmentation losses and the Dice metric used while training (the reported metrics live in ml.metrics)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# A label that no loss term sees (e.g. an unconfident pseudo-label).
IGNORE = -1


def soft_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, ignore_background: bool = True
) -> torch.Tensor:
    """1 - mean soft Dice over classes (and the batch pooled). logits: (N, K, H, W); target: (N, H, W) long.
    Pixels labelled IGNORE count for neither the prediction nor the target."""
    k = logits.shape[1]
    probs = torch.softmax(logits, dim=1)
    # Masked always (a mask of ones changes nothing): testing for IGNORE first would cost a device sync.
    valid = (target != IGNORE)[:, None].to(probs.dtype)
    onehot = F.one_hot(target.clamp_min(0), k).permute(0, 3, 1, 2).to(probs.dtype) * valid
    probs = probs * valid
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + 1.0) / (denom + 1.0)
    if ignore_background:
        dice = dice[1:]
    return 1.0 - dice.mean()


class SegmentationLoss:
    """Cross-entropy plus `dice_weight` x soft Dice loss; pixels labelled IGNORE are left out of both."""

    def __init__(self, dice_weight: float = 1.0) -> None:
        self.dice_weight = dice_weight

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits, target, ignore_index=IGNORE)
        if self.dice_weight:
            loss = loss + self.dice_weight * soft_dice_loss(logits, target)
        return loss


def dice_per_class(pred: torch.Tensor, target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Hard Dice per foreground class 1..K-1, pooled over the batch: (N, H, W) labels -> (K - 1,).
    A class absent from both prediction and target scores 1."""
    out = []
    for c in range(1, n_classes):
        p, t = pred == c, target == c
        denom = int(p.sum()) + int(t.sum())
        out.append(1.0 if denom == 0 else 2.0 * int((p & t).sum()) / denom)
    return torch.tensor(out)


def dice_metrics(logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Trainer metric: {"dice_lv", "dice_myo", "dice_rv", "dice_mean"} for 4-class cardiac outputs."""
    d = dice_per_class(logits.argmax(dim=1), target, logits.shape[1])
    names = (
        ["dice_lv", "dice_myo", "dice_rv"]
        if logits.shape[1] == 4
        else [f"dice_{c}" for c in range(1, logits.shape[1])]
    )
    out = {n: float(v) for n, v in zip(names, d, strict=True)}
    out["dice_mean"] = float(d.mean())
    return out
