"""Small warm-startable torch learners for the active-learning loop (simulation and benchmark).

A learner gives the loop's three functions for one task: `train(x, y, previous)` continues training the
previous round's model for a fixed number of steps (a warm start), `predict(model, x)` computes the pool
outputs the strategies read, chunk by chunk (per-item scores are reduced inside the chunk so that MC
samples of per-pixel maps never sit in memory whole), and `evaluate(model, x, y)` the validation score.

Segmentation: x (N, H, W) float images, y (N, H, W) integer labels, score = mean foreground Dice over the
validation set (per class, pooled over items). Classification: x (N, H, W) frames, y (N,) classes, score =
macro-F1 over all classes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.active_learning import scoring
from ml.active_learning.strategies import PoolPrediction
from ml.data.transforms import rotation_zoom_theta, warp_batch
from ml.metrics.agreement import macro_f1
from ml.training.devices import pick_device
from ml.training.inference import normalise_per_image
from ml.training.uncertainty import mc_dropout_mode

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class LearnerConfig:
    """steps_per_round: optimiser steps per call of `train` (each round, warm-started); first_round_steps:
    steps for a model trained from scratch (default: steps_per_round); mc_samples: MC-dropout passes for
    "bald"/"mc_variance" (0: skip); flips: horizontal flip as the TTA for "tta_variance"; warm_start:
    False retrains every round from the same initialisation for first_round_steps (every point of a curve is
    then trained alike, and the whole-pool point matches the full-data reference); augment: "flip" (random
    horizontal flips) or "affine" (flips, then a random rotation within +/- 15 degrees and zoom 0.9-1.1, as
    the platform's trainer augments); balanced: draw training items so that every labelled class comes up
    equally often (image-level labels only)."""

    steps_per_round: int = 60
    first_round_steps: int | None = None
    batch_size: int = 16
    lr: float = 3e-3
    mc_samples: int = 0
    tta: bool = False
    chunk: int = 256
    reduction: scoring.Reduction = "mean"
    seed: int = 0
    warm_start: bool = True
    augment: Literal["flip", "affine"] = "flip"
    balanced: bool = False


class Learner:
    """Shared training/prediction; subclasses fix the task (loss, metric, embedding layer)."""

    per_pixel: bool = False

    def __init__(
        self,
        build_model: Callable[[], nn.Module],
        embed_module: str,
        config: LearnerConfig | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        self.build_model = build_model
        self.embed_module = embed_module
        self.config = config or LearnerConfig()
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self._round = 0

    @property
    def warm_start(self) -> bool:
        return self.config.warm_start

    # -- task-specific parts
    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def augment(
        self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random horizontal flips, and with augment="affine" a random rotation and zoom per item (label maps
        move with the image: nearest-neighbour, background outside)."""
        flip = torch.rand(len(x), generator=g) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if self.per_pixel:
            y = torch.where(flip[:, None, None], y.flip(-1), y)
        if self.config.augment == "affine":
            x, y = self._affine(x, y, g)
        return x, y

    def _affine(
        self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(x)
        angle = (torch.rand(n, generator=g) * 2 - 1) * math.radians(15.0)
        scale = 0.9 + 0.2 * torch.rand(n, generator=g)
        # Padding with the image's own minimum (its background after per-image normalisation), not 0.
        low = x.amin(dim=(1, 2, 3), keepdim=True)
        warped, labels = warp_batch(x - low, y if self.per_pixel else None, rotation_zoom_theta(angle, scale))
        return warped + low, y if labels is None else labels

    def evaluate(self, model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def _sampling_weights(self, y: torch.Tensor) -> torch.Tensor | None:
        """Per-item weights that draw every labelled class equally often (classification); None: uniform."""
        if y.ndim != 1:
            return None
        counts = torch.bincount(y)
        return (1.0 / counts[y].double()).float()

    # -- shared
    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        """(N, H, W) -> (N, 1, H, W) float32, normalised per image."""
        return normalise_per_image(torch.as_tensor(np.asarray(x, dtype=np.float32))).unsqueeze(1)

    def train(self, x: np.ndarray, y: np.ndarray, previous: nn.Module | None) -> nn.Module:
        """Train a copy of `previous` (or a fresh model) on the labelled items for a fixed step count."""
        cfg = self.config
        self._round += 1
        g = torch.Generator().manual_seed(cfg.seed * 7919 + self._round)
        if previous is None or not cfg.warm_start:
            torch.manual_seed(cfg.seed)
            model = self.build_model()
            steps = cfg.first_round_steps or cfg.steps_per_round
        else:
            model = copy.deepcopy(previous)
            steps = cfg.steps_per_round
        model = model.to(self.device).train()
        xs = self._inputs(x)
        ys = torch.as_tensor(np.asarray(y).astype(np.int64))
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1), eta_min=cfg.lr * 0.05)
        n = len(xs)
        bs = min(cfg.batch_size, n)
        weights = self._sampling_weights(ys) if cfg.balanced else None
        for _ in range(steps):
            if weights is None:
                idx = torch.randint(0, n, (bs,), generator=g)
            else:
                idx = torch.multinomial(weights, bs, replacement=True, generator=g)
            xb, yb = self.augment(xs[idx], ys[idx], g)
            opt.zero_grad(set_to_none=True)
            loss = self.loss(model(xb.to(self.device)), yb.to(self.device))
            loss.backward()
            opt.step()
            sched.step()
        return model.eval()

    @torch.no_grad()
    def probs(self, model: nn.Module, x: np.ndarray) -> np.ndarray:
        """(N, C[, H, W]) softmax probabilities in eval mode."""
        model.eval()
        xs = self._inputs(x)
        out = [
            torch.softmax(model(xs[i : i + self.config.chunk].to(self.device)).float(), 1).cpu()
            for i in range(0, len(xs), self.config.chunk)
        ]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def predict(self, model: nn.Module, x: np.ndarray) -> PoolPrediction:
        """Embeddings (N, D) and per-item scores for every uncertainty strategy this config supports."""
        cfg = self.config
        model.eval()
        xs = self._inputs(x)
        feats: list[torch.Tensor] = []
        capture = [True]  # only the deterministic pass records embeddings

        def keep(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
            if capture[0]:
                feats.append(out.float().mean(dim=(-2, -1)).cpu())

        hook = dict(model.named_modules())[self.embed_module].register_forward_hook(keep)
        names = ["least_confidence", "margin", "entropy"]
        if cfg.mc_samples:
            names += ["bald", "mc_variance"]
        if cfg.tta:
            names += ["tta_variance"]
        scores: dict[str, list[np.ndarray]] = {k: [] for k in names}
        r = cfg.reduction
        try:
            for i in range(0, len(xs), cfg.chunk):
                xb = xs[i : i + cfg.chunk].to(self.device)
                capture[0] = True
                p = torch.softmax(model(xb).float(), 1).cpu().numpy()
                capture[0] = False
                scores["least_confidence"].append(scoring.least_confidence(p, r))
                scores["margin"].append(scoring.margin(p, r))
                scores["entropy"].append(scoring.entropy(p, r))
                if cfg.mc_samples:
                    with mc_dropout_mode(model):
                        t = np.stack(
                            [torch.softmax(model(xb).float(), 1).cpu().numpy() for _ in range(cfg.mc_samples)]
                        )
                    scores["bald"].append(scoring.bald(t, r))
                    scores["mc_variance"].append(scoring.mc_variance(t, r))
                if cfg.tta:
                    q = torch.softmax(model(xb.flip(-1)).float(), 1).cpu()
                    q_back = (q.flip(-1) if self.per_pixel else q).numpy()
                    scores["tta_variance"].append(scoring.tta_variance(np.stack([p, q_back]), r))
        finally:
            hook.remove()
        emb = torch.cat(feats).numpy()
        return PoolPrediction(embeddings=emb, scores={k: np.concatenate(v) for k, v in scores.items()})


class SegmentationLearner(Learner):
    """Segmentation with CE + soft Dice; embeddings pooled from `embed_module` (e.g. "fuse" for the FCN)."""

    per_pixel = True

    def __init__(self, *args: object, n_classes: int = 4, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.n_classes = n_classes

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits, target)
        p = torch.softmax(logits, 1)
        onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
        inter = (p * onehot).sum((0, 2, 3))
        dice = (2 * inter + 1.0) / (p.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1.0)
        return ce + 1.0 - dice[1:].mean()

    def evaluate(self, model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
        """Mean over foreground classes of the Dice pooled over all validation items."""
        pred = self.probs(model, x).argmax(axis=1)
        truth = np.asarray(y)
        dices = []
        for c in range(1, self.n_classes):
            a, b = pred == c, truth == c
            total = int(a.sum()) + int(b.sum())
            dices.append(1.0 if total == 0 else 2.0 * int((a & b).sum()) / total)
        return float(np.mean(dices))


class ClassificationLearner(Learner):
    """Frame classification with cross-entropy; embeddings pooled from `embed_module` (SonoNet: "features")."""

    def __init__(self, *args: object, n_classes: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.n_classes = n_classes

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target)

    def evaluate(self, model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
        """Macro-F1 over all n_classes (a class never predicted and present scores 0)."""
        pred = self.probs(model, x).argmax(axis=1)
        return macro_f1(np.asarray(y), pred, labels=list(range(self.n_classes)))
