"""Train a cardiac segmenter (FCN or U-Net) on 2D slices with the shared Trainer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ml.data.appearance_augmentation import segmentation_transform
from ml.data.datasets import SegmentationSliceDataset
from ml.data.transforms import eval_transform
from ml.segmentation.fcn import FCN, FCNConfig
from ml.segmentation.losses import SegmentationLoss, dice_metrics
from ml.segmentation.unet import UNet, UNetConfig
from ml.training.checkpoints import ModelCard, training_data_hash
from ml.training.devices import pick_device, seed_everything
from ml.training.trainer import History, Progress, Trainer, TrainerConfig, make_loader

Arch = Literal["fcn", "unet"]

# Restart k draws its initialisation and batch order from seed + k x this (the data split keeps `seed`).
RESTART_SEED_STRIDE = 1_000_003


def build_segmenter(
    arch: Arch = "fcn", config: FCNConfig | UNetConfig | None = None, width: int | None = None
) -> nn.Module:
    """An FCN or U-Net; `width` overrides the config's width."""
    if arch == "fcn":
        cfg = config if isinstance(config, FCNConfig) else FCNConfig()
        if width is not None:
            cfg = FCNConfig(**{**cfg.to_dict(), "width": width})  # type: ignore[arg-type]
        return FCN(cfg)
    if arch == "unet":
        ucfg = config if isinstance(config, UNetConfig) else UNetConfig()
        if width is not None:
            ucfg = UNetConfig(**{**ucfg.to_dict(), "width": width})  # type: ignore[arg-type]
        return UNet(ucfg)
    raise ValueError(f"unknown arch {arch!r}")


def train_segmenter(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    arch: Arch = "fcn",
    config: FCNConfig | UNetConfig | None = None,
    width: int | None = None,
    max_seconds: float | None = 300.0,
    max_steps: int | None = None,
    max_epochs: int = 1000,
    batch_size: int = 16,
    lr: float = 2e-3,
    dice_weight: float = 1.0,
    augment: bool = True,
    appearance_augmentation: bool = False,
    val_fraction: float = 0.1,
    val_images: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    eval_every: int | None = 100,
    patience: int | None = 8,
    device: torch.device | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: Path | None = None,
    checkpoint_every: int | None = None,
    lr_schedule: Literal["constant", "cosine"] = "cosine",
    restore_best: bool = True,
    seed: int = 0,
    resume_from: Path | None = None,
    restarts: int = 0,
    min_class_dice: float = 0.5,
) -> tuple[nn.Module, History]:
    """images: (N, H, W) float [0, 1] or uint8; labels: (N, H, W) 0 bg / 1 LV / 2 Myo / 3 RV; H, W
    multiples of 16. Early-stops on the mean foreground Dice of a validation split (a random
    `val_fraction` of the slices unless val_images/val_labels are given); returns the best model.
    `appearance_augmentation` adds random transfer curves, bias fields, blur and noise to `augment`.

    A run can settle with a class it never predicts (the fast FCN at some seeds: RV validation Dice 0.5
    early on, then 0 for good while the loss plateaus). When the returned weights' validation Dice of some
    foreground class is below `min_class_dice`, up to `restarts` further runs start from a fresh
    initialisation and batch order (same split, seed + k x RESTART_SEED_STRIDE), stopping at the first that
    clears it; the run with the best validation mean Dice is returned and `history.attempts` holds every
    run's validation metrics. Each run has the full budget (max_steps, max_seconds). Only the first run
    writes checkpoints and `resume_from` resumes it; the restarts that follow it are run again after a
    resume."""
    dev = device if isinstance(device, torch.device) else pick_device(device)
    images, labels = np.asarray(images), np.asarray(labels)
    if val_images is None or val_labels is None:
        order = np.random.default_rng(seed).permutation(len(images))
        n_val = max(1, round(val_fraction * len(images)))
        val_idx, train_idx = order[:n_val], order[n_val:]
        val_images, val_labels = images[val_idx], labels[val_idx]
        images, labels = images[train_idx], labels[train_idx]
    best: tuple[nn.Module, History] | None = None
    attempts: list[dict[str, float]] = []
    for k in range(max(restarts, 0) + 1):
        model, history = _fit_once(
            images, labels, np.asarray(val_images), np.asarray(val_labels), arch=arch, config=config,
            width=width, max_seconds=max_seconds, max_steps=max_steps, max_epochs=max_epochs,
            batch_size=batch_size, lr=lr, dice_weight=dice_weight, augment=augment,
            appearance_augmentation=appearance_augmentation, eval_every=eval_every, patience=patience,
            device=dev, progress=progress, should_stop=should_stop,
            checkpoint_path=checkpoint_path if k == 0 else None, checkpoint_every=checkpoint_every,
            lr_schedule=lr_schedule, restore_best=restore_best, seed=seed + k * RESTART_SEED_STRIDE,
            resume_from=resume_from if k == 0 else None,
        )  # fmt: skip
        metrics = returned_metrics(history, restore_best)
        attempts.append(metrics)
        if best is None or metrics.get("dice_mean", 0.0) > returned_metrics(best[1], restore_best).get(
            "dice_mean", 0.0
        ):
            best = (model, history)
        if history.stopped == "cancelled" or worst_class_dice(metrics) >= min_class_dice:
            break
    assert best is not None
    best[1].attempts = attempts
    return best


def worst_class_dice(metrics: Mapping[str, float]) -> float:
    """The lowest per-class Dice among `metrics`' "dice_*" keys other than "dice_mean" (1 when none)."""
    values = [v for k, v in metrics.items() if k.startswith("dice_") and k != "dice_mean"]
    return min(values, default=1.0)


def returned_metrics(history: History, restore_best: bool) -> dict[str, float]:
    """The validation metrics of the weights a run returns: its best validation's when `restore_best`,
    else its last's ({} when it never validated)."""
    if restore_best and history.best_step is not None:
        best = [m for step, m in history.evals if step == history.best_step]
        if best:
            return dict(best[-1])
    return dict(history.evals[-1][1]) if history.evals else {}


def _fit_once(
    images: np.ndarray,
    labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    *,
    arch: Arch,
    config: FCNConfig | UNetConfig | None,
    width: int | None,
    max_seconds: float | None,
    max_steps: int | None,
    max_epochs: int,
    batch_size: int,
    lr: float,
    dice_weight: float,
    augment: bool,
    appearance_augmentation: bool,
    eval_every: int | None,
    patience: int | None,
    device: torch.device,
    progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    checkpoint_path: Path | None,
    checkpoint_every: int | None,
    lr_schedule: Literal["constant", "cosine"],
    restore_best: bool,
    seed: int,
    resume_from: Path | None,
) -> tuple[nn.Module, History]:
    """One training run of `train_segmenter` on an already split training and validation set."""
    seed_everything(seed)
    model = build_segmenter(arch, config, width)
    assert isinstance(model, (FCN, UNet))
    train_ds = SegmentationSliceDataset(
        images, labels, segmentation_transform(augment, appearance_augmentation)
    )
    val_ds = SegmentationSliceDataset(val_images, val_labels, eval_transform())
    train_loader = make_loader(
        train_ds, batch_size, shuffle=True, seed=seed, drop_last=len(train_ds) > batch_size
    )
    val_loader: DataLoader[tuple[torch.Tensor, torch.Tensor]] = DataLoader(val_ds, batch_size=2 * batch_size)
    cfg = TrainerConfig(
        max_epochs=max_epochs, max_steps=max_steps, max_seconds=max_seconds, eval_every=eval_every,
        monitor="dice_mean", mode="max", patience=patience, checkpoint_every=checkpoint_every,
        checkpoint_path=checkpoint_path, lr_schedule=lr_schedule, restore_best=restore_best,
    )  # fmt: skip
    card = ModelCard(
        config={"arch": arch, **model.config.to_dict(), "batch_size": batch_size, "lr": lr},
        training_data_hash=training_data_hash(arrays=[images, labels]),
        metrics={},
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    trainer = Trainer(
        model, SegmentationLoss(dice_weight), optimizer, train_loader, val_loader, dice_metrics,
        device=device, config=cfg, progress=progress, should_stop=should_stop, model_card=card,
    )  # fmt: skip
    if resume_from is not None:
        # Model, optimizer, step and RNG state of an interrupted run; the data split above is seeded, so
        # the run continues on the same examples (history.resumed_from_step records where).
        trainer.resume(resume_from)
    history = trainer.fit()
    return trainer.model, history


def segmenter_from_config(config: dict[str, object]) -> nn.Module:
    """Rebuild an untrained FCN/U-Net from a model card's config (JSON turns tuples into lists)."""
    arch = str(config.get("arch", "fcn"))
    cls, cfg_cls = (FCN, FCNConfig) if arch == "fcn" else (UNet, UNetConfig)
    names = cfg_cls.__dataclass_fields__
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in names}
    return cls(cfg_cls(**fields))  # type: ignore[arg-type]
