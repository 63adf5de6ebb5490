"""Adapt a trained plane classifier (SonoNet) to unlabelled frames from a new scanner."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ml.classification.sononet import SonoNet
from ml.classification.train import accuracy_metric, classification_transforms
from ml.data.datasets import PlaneFrameDataset
from ml.domain_adaptation.adversarial import (
    AdversarialConfig,
    AdversarialTrainer,
    UnlabelledImageDataset,
    adversarial_optimizer,
    build_discriminator,
)
from ml.domain_adaptation.batchnorm import recalibrate_batchnorm
from ml.domain_adaptation.discriminator import DiscriminatorConfig
from ml.domain_adaptation.segmentation import AdaptationResult
from ml.domain_adaptation.taps import default_taps
from ml.training.devices import pick_device, seed_everything
from ml.training.trainer import Progress, TrainerConfig, make_loader


def luminance(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB -> (N, H, W) as PlaneFrameDataset does; greyscale passes through."""
    a = np.asarray(frames)
    if a.ndim == 4:
        unit = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
        return unit @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return a


def adapt_classifier(
    model: SonoNet,
    source_frames: np.ndarray,
    source_labels: np.ndarray,
    target_frames: np.ndarray,
    *,
    taps: Sequence[str] | None = None,
    strength: float = 0.3,
    ramp_steps: int = 100,
    discriminator: DiscriminatorConfig | None = None,
    max_steps: int | None = 300,
    max_seconds: float | None = None,
    batch_size: int = 16,
    lr: float = 5e-4,
    augment: bool = True,
    val_frames: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    eval_every: int | None = 100,
    device: torch.device | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    target_batchnorm: bool = False,
    seed: int = 0,
) -> AdaptationResult:
    """Fine-tune a copy of `model` adversarially. source_frames: (N, H, W[, 3]) with labels (N,);
    target_frames: (M, H, W[, 3]) without labels. Frames are resized to the model's input size. Returns the
    last weights; the optional source validation set only reports. `target_batchnorm`: finally re-estimate
    the BatchNorm statistics on the target frames."""
    seed_everything(seed)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    net = copy.deepcopy(model).float()
    size = tuple(net.config.input_size)
    tap_names = tuple(taps) if taps else default_taps(net)
    transform = classification_transforms(size, augment)  # type: ignore[arg-type]
    source = PlaneFrameDataset(np.asarray(source_frames), np.asarray(source_labels), transform)
    target = UnlabelledImageDataset(luminance(target_frames), transform)
    source_loader = make_loader(source, batch_size, seed=seed, drop_last=len(source) > batch_size)
    target_loader = make_loader(target, batch_size, seed=seed + 1, drop_last=len(target) > batch_size)
    val_loader = None
    if val_frames is not None and val_labels is not None:
        val_ds = PlaneFrameDataset(
            np.asarray(val_frames),
            np.asarray(val_labels),
            classification_transforms(size, False),  # type: ignore[arg-type]
        )
        val_loader = DataLoader(val_ds, batch_size=2 * batch_size)
    example = source[0][0][None]
    disc = build_discriminator(net, tap_names, example, discriminator)
    adv = AdversarialConfig(
        taps=tap_names, strength=strength, ramp_steps=ramp_steps, discriminator=disc.config
    )
    cfg = TrainerConfig(
        max_epochs=10**6, max_steps=max_steps, max_seconds=max_seconds, eval_every=eval_every,
        monitor="accuracy", mode="max", patience=None, restore_best=False,
    )  # fmt: skip

    def loss_fn(logits: torch.Tensor, target_: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target_)

    trainer = AdversarialTrainer(
        net, loss_fn, adversarial_optimizer(net, disc, lr), source_loader, target_loader, disc, val_loader,
        accuracy_metric if val_loader is not None else None, adversarial=adv, seed=seed, device=dev,
        config=cfg, progress=progress, should_stop=should_stop,
    )  # fmt: skip
    try:
        history = trainer.fit()
    finally:
        trainer.close()
    adversarial: nn.Module = trainer.model.float()
    final = adversarial
    if target_batchnorm:
        plain = classification_transforms(size, False)  # type: ignore[arg-type]
        frames = [plain(_raw(target, i), None)[0] for i in range(len(target))]
        final = recalibrate_batchnorm(adversarial, torch.stack(frames).to(dev))
    return AdaptationResult(final, history, trainer.domain_log, adv, adversarial)


def _raw(dataset: UnlabelledImageDataset, index: int) -> torch.Tensor:
    """The dataset's image before its (augmenting) transform."""
    transform, dataset.transform = dataset.transform, None
    try:
        return dataset[index]
    finally:
        dataset.transform = transform
