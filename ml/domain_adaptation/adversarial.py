"""Adversarial domain adaptation on the shared Trainer (Kamnitsas et al. 2017).

Each step takes a labelled source batch and an unlabelled target batch, runs them through the task network
together, and adds to the task loss (source only) the discriminator's domain loss on features tapped from
several layers. The features reach the discriminator through a gradient reversal layer, so one optimizer
step trains the discriminator to tell the domains apart and the task network to make them alike. The
reversal strength ramps linearly from 0 to `strength` (the discriminator learns first).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ml.data.datasets import _to_unit_float
from ml.data.transforms import Transform
from ml.domain_adaptation.discriminator import (
    DiscriminatorConfig,
    MultiLayerDiscriminator,
    domain_accuracy,
    domain_loss,
)
from ml.domain_adaptation.gradient_reversal import reverse_gradient
from ml.domain_adaptation.taps import FeatureTaps, channels_of
from ml.training.devices import autocast
from ml.training.trainer import Trainer


@dataclass(frozen=True)
class AdversarialConfig:
    """`strength`: the final gradient-reversal factor (alpha in the paper); it ramps from 0 over
    `ramp_steps` after `delay_steps`, linearly or (`ramp="sigmoid"`) as Ganin and Lempitsky's
    2 / (1 + exp(-10 p)) - 1 of the ramp's progress p. `domain_weight` scales the domain loss seen by the
    discriminator."""

    taps: tuple[str, ...] = ()
    strength: float = 0.1
    delay_steps: int = 0
    ramp_steps: int = 200
    domain_weight: float = 1.0
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    separate_domains: bool = False
    entropy_weight: float = 0.0
    ramp: Literal["linear", "sigmoid"] = "linear"

    def strength_at(self, step: int) -> float:
        """The reversal factor at 0-based `step`."""
        if step < self.delay_steps:
            return 0.0
        if self.ramp_steps <= 0:
            return self.strength
        progress = min(1.0, (step - self.delay_steps) / self.ramp_steps)
        if self.ramp == "sigmoid":
            return self.strength * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)
        return self.strength * progress


class UnlabelledImageDataset(Dataset[torch.Tensor]):
    """Target-domain images without labels: (N, H, W) (or (N, D, H, W) volumes) float [0, 1] or uint8 ->
    item (1, ...) float32 after `transform`."""

    def __init__(self, images: np.ndarray, transform: Transform | None = None) -> None:
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> torch.Tensor:
        image = torch.from_numpy(np.ascontiguousarray(_to_unit_float(self.images[index])))[None]
        if self.transform is not None:
            image, _ = self.transform(image, None)
        return image


def mean_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy (nats) of the class distribution at each output position: logits (N, K, *S)
    (or (N, K) for image-level outputs)."""
    logp = torch.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(dim=1).mean()


def _cycle(loader: DataLoader[Any], seed: int) -> Iterator[Any]:
    """Endless batches; a new epoch reshuffles (the sampler's epoch when it has one)."""
    sampler = getattr(loader, "sampler", None)
    for epoch in itertools.count():
        set_epoch = getattr(sampler, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(seed + epoch)
        yield from loader


@dataclass
class DomainLog:
    """Per step: the reversal strength, the domain loss and the discriminator's accuracy on the batch."""

    steps: list[int] = field(default_factory=list)
    strength: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

    def recent_accuracy(self, n: int = 20) -> float | None:
        return float(np.mean(self.accuracy[-n:])) if self.accuracy else None


class AdversarialTrainer(Trainer):
    """A Trainer whose steps add the adversarial domain loss. `target_loader` yields unlabelled target
    batches (tensors, or tuples whose first item is the image); `discriminator` is built from the tapped
    layers' channels when not given. The optimizer must hold the discriminator's parameters too (see
    `adversarial_optimizer`). Validation, early stopping, budgets and progress are the Trainer's.
    Checkpoints hold the task network only: a resumed run starts a fresh discriminator."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Any,
        optimizer: torch.optim.Optimizer,
        train_loader: DataLoader[Any],
        target_loader: DataLoader[Any],
        discriminator: MultiLayerDiscriminator,
        val_loader: DataLoader[Any] | None = None,
        metric_fn: Any = None,
        *,
        adversarial: AdversarialConfig,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, loss_fn, optimizer, train_loader, val_loader, metric_fn, **kwargs)
        if not adversarial.taps:
            raise ValueError("AdversarialConfig.taps names no layers")
        self.adversarial = adversarial
        self.discriminator = discriminator.to(self.device)
        self.taps = FeatureTaps(self.model, adversarial.taps)
        self._target = _cycle(target_loader, seed)
        self.domain_log = DomainLog()

    def _target_batch(self) -> torch.Tensor:
        batch = next(self._target)
        x = batch if isinstance(batch, torch.Tensor) else batch[0]
        x = x.to(self.device, non_blocking=True)
        if self.config.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _train_step(self, batch: Any) -> float:
        self.model.train()
        self.discriminator.train()
        x_s, y_s = self._inputs(batch)
        assert isinstance(x_s, torch.Tensor), "adversarial training takes single-tensor inputs"
        x_t = self._target_batch()
        n_s, n_t = int(x_s.shape[0]), int(x_t.shape[0])
        strength = self.adversarial.strength_at(self.history.step)
        self.optimizer.zero_grad(set_to_none=True)
        self.taps.clear()
        with autocast(self.device, self.config.amp):
            if self.adversarial.separate_domains:
                # One pass per domain: BatchNorm normalises each domain with its own batch statistics.
                out = self.model(x_s)
                f_s = self.taps.features
                self.taps.clear()
                out_t = self.model(x_t)
                tapped = [torch.cat([a, b]) for a, b in zip(f_s, self.taps.features, strict=True)]
            else:
                both = self.model(torch.cat([x_s, x_t]))
                out, out_t = both[:n_s], both[n_s:]
                tapped = self.taps.features
            feats = [reverse_gradient(f, strength) for f in tapped]
            d_logits = self.discriminator(feats).float()
        is_target = torch.cat([torch.zeros(n_s), torch.ones(n_t)]).to(self.device)
        task = self.loss_fn(out.float(), y_s)
        d_loss = domain_loss(d_logits, is_target)
        loss = task + self.adversarial.domain_weight * d_loss
        if self.adversarial.entropy_weight:
            loss = loss + self.adversarial.entropy_weight * mean_entropy(out_t.float())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {self.history.step + 1}")
        self.scaler.scale(loss).backward()
        if self.config.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        log = self.domain_log
        log.steps.append(self.history.step + 1)
        log.strength.append(strength)
        log.loss.append(float(d_loss.detach()))
        log.accuracy.append(domain_accuracy(d_logits.detach(), is_target))
        return float(task.detach())

    def fit(self) -> Any:
        try:
            return super().fit()
        finally:
            self.taps.clear()

    def close(self) -> None:
        """Remove the feature hooks from the model."""
        self.taps.close()


def build_discriminator(
    model: nn.Module,
    taps: Sequence[str],
    example: torch.Tensor,
    config: DiscriminatorConfig | None = None,
) -> MultiLayerDiscriminator:
    """A discriminator sized for `model`'s tapped layers (channels read from one pass on `example`)."""
    return MultiLayerDiscriminator(channels_of(model, taps, example), config)


def adversarial_optimizer(
    model: nn.Module, discriminator: nn.Module, lr: float, discriminator_lr: float | None = None
) -> torch.optim.Optimizer:
    """Adam over both networks (the discriminator may learn at its own rate)."""
    return torch.optim.Adam(
        [
            {"params": list(model.parameters()), "lr": lr},
            {"params": list(discriminator.parameters()), "lr": discriminator_lr or lr},
        ]
    )
