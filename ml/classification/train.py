"""Train SonoNet on labelled ultrasound frames with the shared Trainer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ml.classification.sononet import SonoNet, SonoNetConfig
from ml.data.datasets import PlaneFrameDataset
from ml.data.transforms import Compose, NormalizeImage, RandomAffine, RandomIntensity, Sample, Transform
from ml.training.checkpoints import ModelCard, training_data_hash
from ml.training.devices import pick_device, seed_everything
from ml.training.trainer import History, Progress, Trainer, TrainerConfig, make_loader


class Resize:
    """Bilinear resize of a (C, H, W) image to `size` (antialiased when shrinking)."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        if tuple(image.shape[-2:]) == tuple(self.size):
            return Sample(image, label)
        shrink = image.shape[-2] > self.size[0] or image.shape[-1] > self.size[1]
        out = F.interpolate(
            image[None].float(), size=self.size, mode="bilinear", align_corners=False, antialias=shrink
        )
        return Sample(out[0], label)


def classification_transforms(size: tuple[int, int], augment: bool) -> Compose:
    steps: list[Transform] = [Resize(size)]
    if augment:
        steps += [RandomAffine(max_rotation_deg=10.0, scale_range=(0.9, 1.1)), RandomIntensity()]
    return Compose([*steps, NormalizeImage()])


def accuracy_metric(logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    return {"accuracy": float((logits.argmax(dim=1) == target).float().mean())}


def train_classifier(
    frames: np.ndarray,
    labels: np.ndarray,
    *,
    config: SonoNetConfig | None = None,
    input_size: tuple[int, int] | None = None,
    max_seconds: float | None = 300.0,
    max_steps: int | None = None,
    max_epochs: int = 1000,
    batch_size: int = 16,
    lr: float = 2e-3,
    label_smoothing: float = 0.0,
    augment: bool = True,
    val_fraction: float = 0.1,
    val_frames: np.ndarray | None = None,
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
) -> tuple[nn.Module, History]:
    """frames: (N, H, W[, 3]) uint8 or float [0, 1]; labels: (N,) class indices. Frames are resized to
    `input_size` (default: the config's, 224 x 288; smaller trains faster and is kept in the config so
    inference resizes the same way) and
    normalised per image. Early-stops on validation accuracy and returns the best model (or, with
    `restore_best=False`, the last one: better when the validation set is small and noisy)."""
    seed_everything(seed)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    frames, labels = np.asarray(frames), np.asarray(labels, dtype=np.int64)
    if val_frames is None or val_labels is None:
        order = np.random.default_rng(seed).permutation(len(frames))
        n_val = max(1, round(val_fraction * len(frames)))
        val_frames, val_labels = frames[order[:n_val]], labels[order[:n_val]]
        frames, labels = frames[order[n_val:]], labels[order[n_val:]]
    config = config or SonoNetConfig()
    if input_size is not None:
        config = replace(config, input_size=(int(input_size[0]), int(input_size[1])))
    input_size = config.input_size
    model = SonoNet(config)
    train_ds = PlaneFrameDataset(frames, labels, classification_transforms(input_size, augment))
    val_ds = PlaneFrameDataset(
        np.asarray(val_frames), np.asarray(val_labels), classification_transforms(input_size, False)
    )
    train_loader = make_loader(
        train_ds, batch_size, shuffle=True, seed=seed, drop_last=len(train_ds) > batch_size
    )
    val_loader: DataLoader[tuple[torch.Tensor, int]] = DataLoader(val_ds, batch_size=2 * batch_size)
    cfg = TrainerConfig(
        max_epochs=max_epochs, max_steps=max_steps, max_seconds=max_seconds, eval_every=eval_every,
        monitor="accuracy", mode="max", patience=patience, checkpoint_every=checkpoint_every,
        checkpoint_path=checkpoint_path, lr_schedule=lr_schedule, restore_best=restore_best,
    )  # fmt: skip
    card = ModelCard(
        config={**model.config.to_dict(), "batch_size": batch_size, "lr": lr},
        training_data_hash=training_data_hash(arrays=[frames, labels]),
        metrics={},
    )

    def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, label_smoothing=label_smoothing)

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    trainer = Trainer(
        model, loss_fn, optimizer, train_loader, val_loader, accuracy_metric,
        device=dev, config=cfg, progress=progress, should_stop=should_stop, model_card=card,
    )  # fmt: skip
    if resume_from is not None:
        # Model, optimizer, step and RNG state of an interrupted run; the data split above is seeded, so
        # the run continues on the same examples (history.resumed_from_step records where).
        trainer.resume(resume_from)
    history = trainer.fit()
    return trainer.model, history


def classifier_from_config(config: dict[str, object]) -> SonoNet:
    """Rebuild an untrained SonoNet from a model card's config (JSON turns tuples into lists)."""
    names = SonoNetConfig.__dataclass_fields__
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in names}
    return SonoNet(SonoNetConfig(**fields))  # type: ignore[arg-type]
