"""Segment a short-axis cine with a trained FCN/U-Net."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.training.inference import prepare_for_inference


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Zero-pad (..., H, W) symmetrically up to multiples of `multiple`; returns the padding
    (left, right, top, bottom) for `crop_padding`."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return (F.pad(x, pad) if any(pad) else x), pad


def crop_padding(y: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pad
    h, w = y.shape[-2:]
    return y[..., top : h - bottom, left : w - right]


def prepare_batch(images: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """(N, H, W) raw images -> (N, 1, H', W') normalised per image with the statistics of the unpadded
    image (the padding is raw intensity 0), and the padding applied."""
    x = images.float()
    mean = x.mean(dim=(-2, -1), keepdim=True)
    std = x.std(dim=(-2, -1), keepdim=True, unbiased=False)
    x, pad = pad_to_multiple(x, multiple)
    return ((x - mean) / (std + 1e-6)).unsqueeze(1), pad


def _batched_logits(
    model: nn.Module, images: np.ndarray | torch.Tensor, device: torch.device, batch_size: int, prepared: bool
) -> Iterator[tuple[int, torch.Tensor]]:
    """(start index, (B, K, H, W) logits cropped to the images' size) per batch of (N, H, W) images."""
    net = model if prepared else prepare_for_inference(model, device)
    multiple = int(getattr(net, "multiple", 16))
    imgs = torch.as_tensor(np.asarray(images, dtype=np.float32))
    for i in range(0, len(imgs), batch_size):
        x, pad = prepare_batch(imgs[i : i + batch_size].to(device), multiple)
        x = x.contiguous(memory_format=torch.channels_last)
        yield i, crop_padding(net(x), pad)


@torch.inference_mode()
def segment_images(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    device: torch.device,
    batch_size: int = 16,
    prepared: bool = False,
) -> np.ndarray:
    """(N, H, W) images -> (N, H, W) uint8 labels. `prepared`: the model is already an inference copy."""
    out = np.empty(np.shape(images), dtype=np.uint8)
    for i, logits in _batched_logits(model, images, device, batch_size, prepared):
        out[i : i + len(logits)] = logits.argmax(dim=1).to(torch.uint8).cpu().numpy()
    return out


@torch.inference_mode()
def segment_probabilities(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    device: torch.device,
    batch_size: int = 16,
    prepared: bool = False,
) -> np.ndarray:
    """(N, H, W) images -> (N, K, H, W) float32 softmax probabilities (as segment_images, before argmax)."""
    parts = [
        torch.softmax(logits.float(), dim=1).cpu().numpy()
        for _, logits in _batched_logits(model, images, device, batch_size, prepared)
    ]
    return np.concatenate(parts)


def segment_cine(
    model: nn.Module, cine: np.ndarray | torch.Tensor, device: torch.device, batch_size: int = 16
) -> np.ndarray:
    """(S, P, H, W) float32 cine -> (S, P, H, W) uint8 labels (0 bg, 1 LV, 2 Myo, 3 RV)."""
    arr = np.asarray(cine, dtype=np.float32)
    if arr.ndim != 4:
        raise ValueError(f"cine must be (S, P, H, W), got {arr.shape}")
    s, p, h, w = arr.shape
    labels = segment_images(model, arr.reshape(s * p, h, w), device, batch_size)
    return labels.reshape(s, p, h, w)
