"""Training and evaluation of the deep cascade on simulated undersampling of magnitude images."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch

from ml.metrics.image_quality import volume_metrics
from ml.reconstruction.baselines import cs_tv, tune_cs_lambda, zero_filled
from ml.reconstruction.cascade import DeepCascade
from ml.reconstruction.fft import real_to_complex
from ml.reconstruction.masks import cartesian_mask
from ml.reconstruction.simulate import random_masks, undersample
from ml.training.devices import pick_device

Progress = Callable[[dict[str, Any]], None]


def _augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flips of each (..., H, W) sample: cheap extra variety for small training sets."""
    out = batch.copy()
    for i in range(len(out)):
        if rng.random() < 0.5:
            out[i] = out[i][..., ::-1, :]
        if rng.random() < 0.5:
            out[i] = out[i][..., :, ::-1]
    return out


def _log(
    history: list[dict[str, float]],
    progress: Progress | None,
    step: int,
    loss: float,
    start: float,
    lr: float,
) -> None:
    entry = {"step": float(step), "loss": loss, "seconds": time.perf_counter() - start, "lr": lr}
    history.append(entry)
    if progress is not None:
        progress(dict(entry))


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
    progress: Progress | None = None,
    log_every: int = 10,
) -> tuple[DeepCascade, list[dict[str, float]]]:
    """Train a deep cascade on fully sampled magnitude images with a fresh random mask per sample.

    train_images: (N, H, W) for a 2D cascade or (N, T, H, W) for a 2D+t one, values around [0, 1].
    Stops after `steps` (or `epochs` passes over the data) or `max_seconds`, whichever comes first; the
    learning rate follows a cosine decay over that budget; gradients are clipped to `clip_grad_norm`. The loss (L1 or L2) is on real/imag channels.
    Without `model`, trains a CPU-sized D5C5 with 16 filters.
    Returns (model in eval mode, history: one {"step", "loss", "seconds", "lr"} per logged step).
    """
    device = torch.device(device) if device is not None else pick_device()
    images = np.asarray(train_images, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise ValueError(f"train_images must be (N, H, W) or (N, T, H, W), got {images.shape}")
    if model is None:
        model = DeepCascade(n_cascades=5, n_convs=5, n_filters=16, dims="2d" if images.ndim == 3 else "2d+t")
    expected_ndim = 3 if model.dims == "2d" else 4
    if images.ndim != expected_ndim:
        raise ValueError(f"a {model.dims} cascade trains on {expected_ndim}-D arrays, got {images.shape}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    batches_per_epoch = math.ceil(len(images) / batch_size)
    step_budget = steps if steps is not None else (epochs * batches_per_epoch if epochs is not None else None)
    criterion = torch.nn.L1Loss() if loss == "l1" else torch.nn.MSELoss()
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    step = 0
    while True:
        elapsed = time.perf_counter() - start
        if (step_budget is not None and step >= step_budget) or elapsed >= max_seconds:
            break
        fraction = max(elapsed / max_seconds, step / step_budget if step_budget else 0.0)
        current_lr = lr * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))
        for group in optimiser.param_groups:
            group["lr"] = current_lr
        batch = _augment(images[rng.integers(0, len(images), size=batch_size)], rng)
        masks = random_masks(batch.shape, acceleration, centre_lines, rng)
        target = torch.from_numpy(batch).to(device).to(torch.complex64)
        mask = torch.from_numpy(masks).to(device)
        x_zf, k0 = undersample(target, mask)
        prediction = model(x_zf, k0, mask)
        value = criterion(prediction, torch.stack((target.real, target.imag), dim=1))
        optimiser.zero_grad(set_to_none=True)
        value.backward()
        if clip_grad_norm is not None:
            # Without normalisation layers, rare large gradients at high learning rates upset Adam.
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimiser.step()
        step += 1
        if step % log_every == 0 or step == 1:
            _log(history, progress, step, float(value.detach()), start, current_lr)
    if step > 0 and (not history or history[-1]["step"] != step):
        _log(history, progress, step, float(value.detach()), start, current_lr)
    return model.eval(), history


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
) -> dict[str, float]:
    """PSNR / SSIM / NMSE of zero-filled, CS-TV and cascade reconstructions, per volume then averaged.

    images: (N, H, W) (each image a volume) or (V, F, H, W) volumes of F frames, fully sampled magnitude.
    A 2D cascade reconstructs every frame on its own; a 2D+t cascade takes each volume as a cine.
    Metrics are on magnitudes with the ground-truth volume maximum as the peak (fastMRI's convention).
    Keys: "{psnr_db,ssim,nmse}_{zero_filled,cs,cascade}" plus "n_volumes", "acceleration", "cs_lambda".
    """
    volumes = _volumes(images)
    masks_np = evaluation_masks(volumes, acceleration, centre_lines, seed, model.dims)
    target = torch.from_numpy(volumes).to(torch.complex64)
    masks = torch.from_numpy(masks_np)
    x_zf, k0 = undersample(target, masks)
    n_volumes, frames, height, width = volumes.shape
    zf = zero_filled(k0).abs().numpy()
    cs = cs_tv(k0, masks, lam=cs_lambda, iterations=cs_iterations).abs().numpy()
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
        scores = volume_metrics(list(volumes), list(recon))
        results[f"psnr_db_{name}"] = scores.psnr
        results[f"ssim_{name}"] = scores.ssim
        results[f"nmse_{name}"] = scores.nmse
    return results
