"""Training and evaluation of the deep cascade on simulated undersampling of magnitude images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ml.metrics.image_quality import volume_metrics
from ml.reconstruction.baselines import cs_tv, tune_cs_lambda, zero_filled
from ml.reconstruction.cascade import DeepCascade
from ml.reconstruction.fft import real_to_complex
from ml.reconstruction.masks import cartesian_mask
from ml.reconstruction.simulate import undersample
from ml.training.devices import pick_device, seed_everything
from ml.training.trainer import History, LossFn, Progress, Trainer, TrainerConfig, make_loader

LogFn = Callable[[dict[str, Any]], None]


class UndersampledImages(Dataset[tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]]):
    """Fully sampled magnitude images as simulated acquisitions for the shared Trainer.

    images: (N, H, W) or (N, T, H, W). Item i is `((x_zf, k0, mask), target)`: x_zf and target
    (2, [T,] H, W) real/imag, k0 complex and mask ([T,] H, W). With `mask_seed` None every draw gets a fresh
    mask (and, with `augment`, random flips) from the global torch RNG, which the Trainer's checkpoints
    carry; with a `mask_seed` item i always gets the mask of seed `mask_seed + i` and no flips (validation).
    """

    def __init__(
        self,
        images: np.ndarray,
        acceleration: float,
        centre_lines: int,
        *,
        augment: bool = True,
        mask_seed: int | None = None,
    ) -> None:
        self.images = np.asarray(images, dtype=np.float32)
        self.acceleration, self.centre_lines = acceleration, centre_lines
        self.augment, self.mask_seed = augment and mask_seed is None, mask_seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        image = torch.from_numpy(self.images[index])
        if self.augment:
            # Random flips: cheap extra variety for small training sets.
            if float(torch.rand(())) < 0.5:
                image = torch.flip(image, dims=(-2,))
            if float(torch.rand(())) < 0.5:
                image = torch.flip(image, dims=(-1,))
        if self.mask_seed is None:
            seed = int(torch.randint(0, 2**31 - 1, ()))
        else:
            seed = self.mask_seed + index
        mask = torch.from_numpy(
            cartesian_mask(tuple(image.shape), self.acceleration, self.centre_lines, seed)
        )
        target = image.to(torch.complex64)
        x_zf, k0 = undersample(target[None], mask[None])
        return (x_zf[0], k0[0], mask), torch.stack((target.real, target.imag))


def _check_images(images: np.ndarray, model: DeepCascade) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise ValueError(f"train_images must be (N, H, W) or (N, T, H, W), got {images.shape}")
    expected_ndim = 3 if model.dims == "2d" else 4
    if images.ndim != expected_ndim:
        raise ValueError(f"a {model.dims} cascade trains on {expected_ndim}-D arrays, got {images.shape}")
    return images


def fit_cascade(
    train_images: np.ndarray,
    *,
    acceleration: float = 6.0,
    centre_lines: int = 8,
    model: DeepCascade | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 8,
    lr: float = 1e-3,
    loss: Literal["l1", "l2"] = "l1",
    clip_grad_norm: float | None = 1.0,
    max_seconds: float = 300.0,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: LogFn | None = None,
    log_every: int = 10,
    val_images: np.ndarray | None = None,
    eval_every: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint_path: Path | None = None,
    checkpoint_every: int | None = None,
    resume_from: Path | None = None,
) -> tuple[DeepCascade, History, list[dict[str, float]]]:
    """`train_cascade` with the Trainer's History (steps, stop reason, `resumed_from_step`) as well.

    With `val_images` (same layout as the training images, fixed masks) the Trainer validates every
    `eval_every` steps (default: once per epoch) and returns the weights with the lowest validation loss.
    `resume_from` continues from a checkpoint written with `checkpoint_path`/`checkpoint_every`: model,
    optimiser, step, RNG state and the time already spent, which counts against `max_seconds`.
    """
    dev = torch.device(device) if device is not None else pick_device()
    if model is None:
        ndim = np.ndim(train_images)
        model = DeepCascade(n_cascades=5, n_convs=5, n_filters=16, dims="2d" if ndim == 3 else "2d+t")
    images = _check_images(train_images, model)
    seed_everything(seed)
    train_loader = make_loader(UndersampledImages(images, acceleration, centre_lines), batch_size, seed=seed)
    val_loader: DataLoader[Any] | None = None
    if val_images is not None:
        val = UndersampledImages(_check_images(val_images, model), acceleration, centre_lines, mask_seed=seed)
        val_loader = DataLoader(val, batch_size=batch_size)
    criterion: LossFn = torch.nn.L1Loss() if loss == "l1" else torch.nn.MSELoss()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    config = TrainerConfig(
        # Without `epochs` the budget is steps or seconds; a huge epoch count keeps the schedule on those.
        max_epochs=epochs if epochs is not None and steps is None else 10**9,
        max_steps=steps,
        max_seconds=max_seconds,
        eval_every=eval_every,
        patience=None,
        progress_every=1,
        checkpoint_every=checkpoint_every,
        checkpoint_path=checkpoint_path,
        # Complex FFTs inside the network: no autocast; 5-D 2D+t weights have no channels-last layout.
        amp=False,
        channels_last=False,
        # Without normalisation layers, rare large gradients at high learning rates upset Adam.
        grad_clip=clip_grad_norm,
        # Cosine decay to zero over the budget (the largest of steps, epochs and seconds used), no warm-up.
        lr_schedule="cosine",
        warmup=0.0,
        min_lr_ratio=0.0,
    )
    log: list[dict[str, float]] = []

    def record(step: int, loss_value: float, seconds: float) -> None:
        entry = {
            "step": float(step),
            "loss": loss_value,
            "seconds": seconds,
            "lr": float(optimiser.param_groups[0]["lr"]),
        }
        log.append(entry)
        if progress is not None:
            progress(dict(entry))

    def on_progress(p: Progress) -> None:
        if p.phase == "train" and (p.step % log_every == 0 or p.step == 1):
            record(p.step, p.loss, p.elapsed_s)

    trainer = Trainer(
        model, criterion, optimiser, train_loader, val_loader, device=dev, config=config,
        progress=on_progress, should_stop=should_stop,
    )  # fmt: skip
    if resume_from is not None:
        trainer.resume(resume_from)
    history = trainer.fit()
    if history.train_loss and (not log or log[-1]["step"] != history.step):
        record(history.step, history.train_loss[-1][1], history.elapsed_s)
    trained = trainer.model
    assert isinstance(trained, DeepCascade)
    return trained.eval(), history, log


def train_cascade(
    train_images: np.ndarray,
    *,
    acceleration: float = 6.0,
    centre_lines: int = 8,
    model: DeepCascade | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 8,
    lr: float = 1e-3,
    loss: Literal["l1", "l2"] = "l1",
    clip_grad_norm: float | None = 1.0,
    max_seconds: float = 300.0,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: LogFn | None = None,
    log_every: int = 10,
) -> tuple[DeepCascade, list[dict[str, float]]]:
    """Train a deep cascade on fully sampled magnitude images with a fresh random mask per sample, on the
    shared Trainer.

    train_images: (N, H, W) for a 2D cascade or (N, T, H, W) for a 2D+t one, values around [0, 1].
    Stops after `steps` (or `epochs` passes over the data) or `max_seconds`, whichever comes first; the
    learning rate follows a cosine decay over that budget; gradients are clipped to `clip_grad_norm`; each
    sample is randomly flipped. The loss (L1 or L2) is on real/imag channels.
    Without `model`, trains a CPU-sized D5C5 with 16 filters.
    Returns (model in eval mode, history: one {"step", "loss", "seconds", "lr"} per logged step: the
    first, every `log_every`-th and the last).
    """
    trained, _, log = fit_cascade(
        train_images, acceleration=acceleration, centre_lines=centre_lines, model=model, steps=steps,
        epochs=epochs, batch_size=batch_size, lr=lr, loss=loss, clip_grad_norm=clip_grad_norm,
        max_seconds=max_seconds, device=device, seed=seed, progress=progress, log_every=log_every,
    )  # fmt: skip
    return trained, log


def _volumes(images: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, 1, H, W) one-frame volumes; (V, F, H, W) stays."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        return images[:, None]
    if images.ndim == 4:
        return images
    raise ValueError(f"images must be (N, H, W) or (V, F, H, W), got {images.shape}")


def evaluation_masks(
    volumes: np.ndarray, acceleration: float, centre_lines: int, seed: int, dims: str
) -> np.ndarray:
    """Deterministic masks for (V, F, H, W) volumes: one cine mask per volume for 2D+t, one mask per frame
    for 2D (each frame its own draw either way). Returns float32 (V, F, H, W)."""
    n_volumes, frames, height, width = volumes.shape
    if dims == "2d+t":
        return np.stack(
            [
                cartesian_mask((frames, height, width), acceleration, centre_lines, seed + v)
                for v in range(n_volumes)
            ]
        )
    masks = [
        cartesian_mask((height, width), acceleration, centre_lines, seed + i)
        for i in range(n_volumes * frames)
    ]
    return np.stack(masks).reshape(volumes.shape)


@torch.no_grad()
def reconstruct(
    model: DeepCascade, x_zf: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor, batch_size: int = 8
) -> torch.Tensor:
    """Run the cascade in batches along dim 0; inputs on any device, output on the model's device."""
    device = next(model.parameters()).device
    parts = [
        model(
            x_zf[i : i + batch_size].to(device),
            k0[i : i + batch_size].to(device),
            mask[i : i + batch_size].to(device),
        )
        for i in range(0, len(x_zf), batch_size)
    ]
    return torch.cat(parts)


def tune_cs_on_images(
    images: np.ndarray, acceleration: float, centre_lines: int = 8, seed: int = 10_000, iterations: int = 100
) -> float:
    """TV weight for `cs_tv` tuned on validation images (N, H, W) under masks unlike the evaluation ones."""
    frames = _volumes(images).reshape(-1, 1, *np.shape(images)[-2:])
    masks = torch.from_numpy(evaluation_masks(frames, acceleration, centre_lines, seed, "2d")[:, 0])
    target = torch.from_numpy(frames[:, 0]).to(torch.complex64)
    _, k0 = undersample(target, masks)
    return tune_cs_lambda(target, k0, masks, iterations=iterations)


def evaluate(
    model: DeepCascade,
    images: np.ndarray,
    acceleration: float = 6.0,
    seed: int = 0,
    *,
    centre_lines: int = 8,
    cs_lambda: float = 0.002,
    cs_iterations: int = 100,
    batch_size: int = 8,
    include_cs: bool = True,
) -> dict[str, float]:
    """PSNR / SSIM / NMSE of zero-filled, CS-TV and cascade reconstructions, per volume then averaged.

    images: (N, H, W) (each image a volume) or (V, F, H, W) volumes of F frames, fully sampled magnitude.
    A 2D cascade reconstructs every frame on its own; a 2D+t cascade takes each volume as a cine.
    Metrics are on magnitudes with the ground-truth volume maximum as the peak (fastMRI's convention).
    Keys: "{psnr_db,ssim,nmse}_{zero_filled,cs,cascade}" plus "n_volumes", "acceleration", "cs_lambda";
    `include_cs=False` leaves out the (slow) CS-TV baseline and its keys.
    """
    volumes = _volumes(images)
    masks_np = evaluation_masks(volumes, acceleration, centre_lines, seed, model.dims)
    target = torch.from_numpy(volumes).to(torch.complex64)
    masks = torch.from_numpy(masks_np)
    x_zf, k0 = undersample(target, masks)
    n_volumes, frames, height, width = volumes.shape
    zf = zero_filled(k0).abs().numpy()
    cs = cs_tv(k0, masks, lam=cs_lambda, iterations=cs_iterations).abs().numpy() if include_cs else None
    model = model.eval()
    mask_in = masks
    if model.dims == "2d":
        # Every frame is its own sample: fold the frames into the batch.
        x_zf = x_zf.transpose(1, 2).reshape(n_volumes * frames, 2, height, width)
        k0, mask_in = k0.reshape(-1, height, width), masks.reshape(-1, height, width)
    out = reconstruct(model, x_zf, k0, mask_in, batch_size=batch_size)
    cascade = real_to_complex(out).abs().cpu().numpy().reshape(volumes.shape)
    results: dict[str, float] = {
        "n_volumes": float(n_volumes),
        "acceleration": float(acceleration),
        "cs_lambda": float(cs_lambda),
    }
    for name, recon in (("zero_filled", zf), ("cs", cs), ("cascade", cascade)):
        if recon is None:
            continue
        scores = volume_metrics(list(volumes), list(recon))
        results[f"psnr_db_{name}"] = scores.psnr
        results[f"ssim_{name}"] = scores.ssim
        results[f"nmse_{name}"] = scores.nmse
    return results
