"""Adapt a trained segmenter (FCN, U-Net or DeepMedic) to unlabelled target-scanner images."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ml.data.appearance_augmentation import segmentation_transform
from ml.data.datasets import SegmentationSliceDataset
from ml.data.transforms import eval_transform
from ml.domain_adaptation.adversarial import (
    AdversarialConfig,
    AdversarialTrainer,
    DomainLog,
    UnlabelledImageDataset,
    adversarial_optimizer,
    build_discriminator,
)
from ml.domain_adaptation.batchnorm import recalibrate_batchnorm
from ml.domain_adaptation.class_prior import PriorCheckpoints, class_proportions
from ml.domain_adaptation.discriminator import DiscriminatorConfig
from ml.domain_adaptation.taps import default_taps
from ml.segmentation.infer import segment_probabilities
from ml.segmentation.losses import SegmentationLoss, dice_metrics
from ml.training.devices import pick_device, seed_everything
from ml.training.trainer import History, Progress, TrainerConfig, make_loader


@dataclass
class AdaptationResult:
    """The adapted network, the Trainer's history (validation is on labelled SOURCE data only) and the
    per-step domain log (discriminator accuracy near 0.5 = features the discriminator cannot separate).
    `adversarial_model` is the network before its BatchNorm statistics were re-estimated on the target
    (the same object as `model` when that step is off)."""

    model: nn.Module
    history: History
    domain: DomainLog
    config: AdversarialConfig
    adversarial_model: nn.Module | None = None
    selection: PriorCheckpoints | None = None


# The learning rates of the adversarial stage that bench/domain_shift.py and the platform's adapt job use:
# the segmenter at 1e-4 (at 5e-4 it collapsed on the development vendor's full run), the discriminator at
# 5e-4. Chosen on the development vendor, never on a benchmark target.
SEGMENTER_ADAPT_LR = 1e-4
DISCRIMINATOR_LR = 5e-4


def normalised_batch(images: np.ndarray) -> torch.Tensor:
    """(N, H, W) [0, 1] or uint8 -> (N, 1, H, W) float32, each image zero mean / unit std (as the
    evaluation transform and inference do)."""
    x = torch.from_numpy(np.asarray(images)).float()
    if np.asarray(images).dtype == np.uint8:
        x = x / 255.0
    x = x[:, None]
    dims = tuple(range(2, x.ndim))
    return (x - x.mean(dim=dims, keepdim=True)) / x.std(dim=dims, keepdim=True, unbiased=False).clamp_min(
        1e-6
    )


def adapt_segmenter(
    model: nn.Module,
    source_images: np.ndarray,
    source_labels: np.ndarray,
    target_images: np.ndarray,
    *,
    taps: Sequence[str] | None = None,
    strength: float = 0.1,
    ramp_steps: int = 100,
    delay_steps: int = 0,
    ramp: Literal["linear", "sigmoid"] = "linear",
    discriminator: DiscriminatorConfig | None = None,
    max_steps: int | None = 300,
    max_seconds: float | None = None,
    batch_size: int = 8,
    lr: float = 5e-4,
    discriminator_lr: float | None = None,
    dice_weight: float = 1.0,
    augment: bool = True,
    appearance_augmentation: bool = False,
    val_images: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    eval_every: int | None = 100,
    device: torch.device | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    lr_schedule: Literal["constant", "cosine"] = "constant",
    target_batchnorm: bool = False,
    separate_domains: bool = True,
    entropy_weight: float = 0.0,
    select_every: int | None = None,
    seed: int = 0,
) -> AdaptationResult:
    """Fine-tune a copy of `model` (left untouched) adversarially. source_images/labels: (N, H, W) as for
    `train_segmenter`; target_images: (M, H, W) from the new scanner, no labels. H, W multiples of the
    model's `multiple`. The last weights are returned (no target labels exist to pick the best by); the
    optional source validation set only reports. `target_batchnorm`: finally re-estimate the BatchNorm
    statistics on the target images (`recalibrate_batchnorm`), so the result is specific to the target.
    `separate_domains` (the default): source and target go through the network in passes of their own,
    so BatchNorm normalises each with its own batch statistics; False: one joint pass. `entropy_weight`
    adds the mean entropy of the target predictions to the loss (0: off). `select_every` (a multiple of
    10): every so many steps once the reversal has ramped up, score the weights by how far their target
    predictions' class proportions are from the source labels' (`class_prior`, no target label) and
    return the closest instead of the last (`selection` records the scores)."""
    seed_everything(seed)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    net = copy.deepcopy(model).float()
    tap_names = tuple(taps) if taps else default_taps(net)
    transform = segmentation_transform(augment, appearance_augmentation)
    source = SegmentationSliceDataset(np.asarray(source_images), np.asarray(source_labels), transform)
    target = UnlabelledImageDataset(np.asarray(target_images), transform)
    source_loader = make_loader(source, batch_size, seed=seed, drop_last=len(source) > batch_size)
    target_loader = make_loader(target, batch_size, seed=seed + 1, drop_last=len(target) > batch_size)
    val_loader = None
    if val_images is not None and val_labels is not None:
        val_ds = SegmentationSliceDataset(np.asarray(val_images), np.asarray(val_labels), eval_transform())
        val_loader = DataLoader(val_ds, batch_size=2 * batch_size)
    example = source[0][0][None]
    disc = build_discriminator(net, tap_names, example, discriminator)
    adv = AdversarialConfig(
        taps=tap_names, strength=strength, ramp_steps=ramp_steps, delay_steps=delay_steps, ramp=ramp,
        discriminator=disc.config, separate_domains=separate_domains,
        entropy_weight=entropy_weight,
    )  # fmt: skip
    cfg = TrainerConfig(
        max_epochs=10**6, max_steps=max_steps, max_seconds=max_seconds, eval_every=eval_every,
        monitor="dice_mean", mode="max", patience=None, restore_best=False, lr_schedule=lr_schedule,
        channels_last=example.ndim == 4,
    )  # fmt: skip
    trainer = AdversarialTrainer(
        net, SegmentationLoss(dice_weight), adversarial_optimizer(net, disc, lr, discriminator_lr),
        source_loader, target_loader, disc, val_loader, dice_metrics if val_loader is not None else None,
        adversarial=adv, seed=seed, device=dev, config=cfg, progress=progress, should_stop=should_stop,
    )  # fmt: skip
    selector = None
    if select_every is not None:
        if select_every % cfg.progress_every:
            raise ValueError(f"select_every must be a multiple of {cfg.progress_every}, got {select_every}")
        selector = PriorCheckpoints(np.zeros(0), first_step=delay_steps + ramp_steps)
        progress = _selecting(
            progress, selector, trainer.module, source_labels, target_images, select_every, dev
        )
    trainer.progress = progress
    try:
        history = trainer.fit()
    finally:
        trainer.close()
    if selector is not None and selector.best_state is not None:
        trainer.module.load_state_dict(selector.best_state)
    adversarial = trainer.model.float()
    final = adversarial
    if target_batchnorm:
        final = recalibrate_batchnorm(adversarial, normalised_batch(np.asarray(target_images)).to(dev))
    return AdaptationResult(final, history, trainer.domain_log, adv, adversarial, selector)


def predicted_proportions(model: nn.Module, images: np.ndarray, device: torch.device) -> np.ndarray:
    """(K,) class proportions of `model`'s labels of `images` (N, H, W), with BatchNorm statistics
    re-estimated on them (the model itself is untouched)."""
    labeller = recalibrate_batchnorm(model, normalised_batch(images).to(device))
    probs = segment_probabilities(labeller, images, device)
    return class_proportions(probs.argmax(axis=1), probs.shape[1])


def _selecting(
    progress: Callable[[Progress], None] | None,
    selector: PriorCheckpoints,
    model: nn.Module,
    source_labels: np.ndarray,
    target_images: np.ndarray,
    every: int,
    device: torch.device,
) -> Callable[[Progress], None]:
    """A progress callback that also offers `model` to `selector` every `every` steps."""
    target = np.asarray(target_images)

    def callback(p: Progress) -> None:
        if progress is not None:
            progress(p)
        if p.phase == "train" and p.step % every == 0:
            predicted = predicted_proportions(model, target, device)
            if selector.reference.size == 0:
                selector.reference = class_proportions(np.asarray(source_labels), len(predicted))
            selector.offer(p.step, model, predicted)
            model.train()

    return callback
