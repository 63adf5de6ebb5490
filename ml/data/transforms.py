"""Tensor augmentations applied consistently to an image and its (optional) label map.

Every transform is a callable `t(image, label) -> Sample`: image (C, H, W) float, label (H, W) long or None.
Randomness comes from the `generator` given at construction (or torch's global RNG), so DataLoader seeding
makes runs reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple, Protocol

import torch
import torch.nn.functional as F


class Sample(NamedTuple):
    """image: (C, H, W) float; label: (H, W) long, or None for image-level labels."""

    image: torch.Tensor
    label: torch.Tensor | None


class Transform(Protocol):
    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample: ...


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=generator))


def rotation_zoom_theta(angle_rad: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(N, 2, 3) float32 affine_grid matrices rotating by angle_rad and zooming by scale (each (N,)) about
    the image centre. affine_grid maps output coordinates to input coordinates, hence the inverse zoom."""
    c, s = torch.cos(angle_rad.double()) / scale.double(), torch.sin(angle_rad.double()) / scale.double()
    zero = torch.zeros_like(c)
    return torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1).float()


def warp_batch(
    images: torch.Tensor, labels: torch.Tensor | None, theta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """images (N, C, H, W), labels (N, H, W) or None, theta (N, 2, 3): bilinear for the images, nearest for
    the labels; pixels from outside the image are 0."""
    grid = F.affine_grid(theta, [len(images), 1, *images.shape[-2:]], align_corners=False)
    img = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    lab = None
    if labels is not None:
        lab_f = F.grid_sample(
            labels[:, None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False
        )
        lab = lab_f[:, 0].round().to(labels.dtype)
    return img.to(images.dtype), lab


def affine_warp(image: torch.Tensor, label: torch.Tensor | None, angle_rad: float, scale: float) -> Sample:
    """Rotate by angle and zoom by scale about the image centre. Bilinear for the image, nearest for the
    label; pixels from outside the image are 0 (background)."""
    theta = rotation_zoom_theta(torch.tensor([angle_rad]), torch.tensor([scale]))
    img, lab = warp_batch(image[None], None if label is None else label[None], theta)
    return Sample(img[0], None if lab is None else lab[0])


class RandomAffine:
    """Random rotation (+/- max_rotation_deg) and isotropic scale in scale_range, applied with probability p."""

    def __init__(
        self,
        max_rotation_deg: float = 15.0,
        scale_range: tuple[float, float] = (0.9, 1.1),
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        self.max_rotation_deg = max_rotation_deg
        self.scale_range = scale_range
        self.p = p
        self.generator = generator

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        if float(torch.rand((), generator=self.generator)) >= self.p:
            return Sample(image, label)
        angle = math.radians(_uniform(-self.max_rotation_deg, self.max_rotation_deg, self.generator))
        scale = _uniform(*self.scale_range, self.generator)
        return affine_warp(image, label, angle, scale)


class RandomIntensity:
    """Gamma and contrast jitter of the image only: x -> ((x - min) / range) ** gamma, then contrast about
    the mean, then the original range restored. Labels pass through."""

    def __init__(
        self,
        gamma_range: tuple[float, float] = (0.7, 1.5),
        contrast_range: tuple[float, float] = (0.8, 1.2),
        generator: torch.Generator | None = None,
    ) -> None:
        self.gamma_range = gamma_range
        self.contrast_range = contrast_range
        self.generator = generator

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        gamma = _uniform(*self.gamma_range, self.generator)
        contrast = _uniform(*self.contrast_range, self.generator)
        lo, hi = image.min(), image.max()
        rng = (hi - lo).clamp_min(1e-8)
        x = ((image - lo) / rng).clamp(0, 1) ** gamma
        x = (x - x.mean()) * contrast + x.mean()
        return Sample(x * rng + lo, label)


class NormalizeImage:
    """Per-image normalisation to zero mean and unit standard deviation (a constant image becomes 0)."""

    def __init__(self, eps: float = 1e-6) -> None:
        self.eps = eps

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        x = image.float()
        return Sample((x - x.mean()) / x.std(unbiased=False).clamp_min(self.eps), label)


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        for t in self.transforms:
            image, label = t(image, label)
        return Sample(image, label)


def training_transform(generator: torch.Generator | None = None) -> Compose:
    """The default augmentation for training: rotation, scale, intensity, then normalisation."""
    return Compose(
        [RandomAffine(generator=generator), RandomIntensity(generator=generator), NormalizeImage()]
    )


def eval_transform() -> Compose:
    """The default for evaluation and inference: normalisation only."""
    return Compose([NormalizeImage()])
