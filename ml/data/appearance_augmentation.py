"""Random scanner appearance for training images: intensity transfer curves, bias field, blur and noise.

Generic domain randomisation (not any one vendor's look): each transform draws its parameters from wide
ranges, so a segmenter trained with them sees many contrasts, including non-monotonic ones where a
tissue's brightness order changes. Images are (C, H, W) float; labels pass through untouched.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ml.data.transforms import (
    Compose,
    NormalizeImage,
    RandomAffine,
    RandomIntensity,
    Sample,
    Transform,
    eval_transform,
    training_transform,
)
from ml.data.vendors import bias_field_at


def _rand(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator))


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return lo + (hi - lo) * _rand(generator)


def piecewise_linear(x: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Interpolate through the knots (xs ascending, ys), flat outside them (as numpy.interp). x: any shape."""
    xs, ys = xs.to(x.dtype), ys.to(x.dtype)
    xc = x.clamp(float(xs[0]), float(xs[-1]))
    i = torch.bucketize(xc, xs, right=True).clamp(1, len(xs) - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    t = (xc - x0) / (x1 - x0).clamp_min(1e-12)
    return y0 + t * (y1 - y0)


def random_curve(
    n_knots: int, monotonic: bool, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Knots (xs, ys) of a random map of [0, 1]: xs from 0 to 1 with sorted uniform interior points,
    ys uniform in [0, 1] (sorted ascending when `monotonic`)."""
    inner = torch.sort(torch.rand(n_knots - 2, generator=generator)).values
    xs = torch.cat([torch.zeros(1), inner, torch.ones(1)])
    ys = torch.rand(n_knots, generator=generator)
    if monotonic:
        ys = torch.sort(ys).values
    return xs, ys


class RandomTransferCurve:
    """With probability p, rescale the image to [0, 1] and map it through a random piecewise-linear curve
    of `n_knots` knots; half of the curves are monotonic, half need not be."""

    def __init__(self, p: float = 0.5, n_knots: int = 5, generator: torch.Generator | None = None) -> None:
        if n_knots < 2:
            raise ValueError(f"a curve needs at least 2 knots, got {n_knots}")
        self.p, self.n_knots, self.generator = p, n_knots, generator

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        if _rand(self.generator) >= self.p:
            return Sample(image, label)
        monotonic = _rand(self.generator) < 0.5
        xs, ys = random_curve(self.n_knots, monotonic, self.generator)
        lo, hi = image.min(), image.max()
        x = ((image - lo) / (hi - lo).clamp_min(1e-8)).clamp(0, 1)
        return Sample(piecewise_linear(x, xs, ys), label)


def bias_field(
    shape: tuple[int, int], strength: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(H, W) smooth multiplicative field within 1 +/- strength: the vendors' coil-sensitivity field
    (a random plane plus a quadratic bowl), drawn with `generator`."""
    angle = _uniform(0.0, 2 * math.pi, generator)
    centre = (_uniform(-0.5, 0.5, generator), _uniform(-0.5, 0.5, generator))
    return torch.from_numpy(bias_field_at(shape, strength, angle, centre))


class RandomBiasField:
    """With probability p, multiply by a smooth field of strength uniform in `strength_range`."""

    def __init__(
        self, strength_range: tuple[float, float] = (0.0, 0.35), p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        self.strength_range, self.p, self.generator = strength_range, p, generator

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        if _rand(self.generator) >= self.p:
            return Sample(image, label)
        strength = _uniform(*self.strength_range, self.generator)
        return Sample(image * bias_field(tuple(image.shape[-2:]), strength, self.generator), label)  # type: ignore[arg-type]


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """(C, H, W) blurred by a separable Gaussian of `sigma` pixels (edges replicated); sigma <= 0: as is."""
    if sigma <= 0:
        return image
    r = max(1, int(3 * sigma + 0.5))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=image.dtype) / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(image[None], (r, r, r, r), mode="replicate")
    c = image.shape[0]
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    x = F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return x[0]


class RandomBlur:
    """With probability p, Gaussian blur of sigma uniform in `sigma_range` (pixels)."""

    def __init__(
        self, sigma_range: tuple[float, float] = (0.3, 1.5), p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        self.sigma_range, self.p, self.generator = sigma_range, p, generator

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        if _rand(self.generator) >= self.p:
            return Sample(image, label)
        return Sample(gaussian_blur(image, _uniform(*self.sigma_range, self.generator)), label)


class RandomNoise:
    """With probability p, additive or multiplicative (half each) Gaussian noise, sigma uniform in
    `sigma_range` relative to the image's intensity range, smoothed by up to `max_correlation_px`."""

    def __init__(
        self, sigma_range: tuple[float, float] = (0.0, 0.12), max_correlation_px: float = 1.5,
        p: float = 0.5, generator: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        self.sigma_range, self.max_correlation_px = sigma_range, max_correlation_px
        self.p, self.generator = p, generator

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None) -> Sample:
        if _rand(self.generator) >= self.p:
            return Sample(image, label)
        sigma = _uniform(*self.sigma_range, self.generator)
        multiplicative = _rand(self.generator) < 0.5
        corr = _uniform(0.0, self.max_correlation_px, self.generator)
        noise = gaussian_blur(torch.randn(image.shape, generator=self.generator), corr)
        noise = noise / noise.std().clamp_min(1e-8) * sigma
        if multiplicative:
            return Sample(image * (1.0 + noise), label)
        return Sample(image + noise * (image.max() - image.min()).clamp_min(1e-8), label)


def appearance_training_transform(generator: torch.Generator | None = None, p: float = 0.25) -> Compose:
    """The default training augmentation (rotation, scale, gamma/contrast, normalisation) with, each with
    probability `p`, a random transfer curve, bias field, blur and noise before the gamma/contrast jitter."""
    steps: list[Transform] = [
        RandomAffine(generator=generator),
        RandomTransferCurve(p=p, generator=generator),
        RandomBiasField(p=p, generator=generator),
        RandomBlur(p=p, generator=generator),
        RandomNoise(p=p, generator=generator),
        RandomIntensity(generator=generator),
        NormalizeImage(),
    ]
    return Compose(steps)


def segmentation_transform(augment: bool, appearance: bool = False) -> Compose:
    """A training set's transform: normalisation only (augment False), the default augmentation, or
    (appearance) that with random scanner appearance too."""
    if not augment:
        return eval_transform()
    return appearance_training_transform() if appearance else training_transform()
