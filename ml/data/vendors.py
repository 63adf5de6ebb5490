"""Scanner-vendor appearance profiles for the synthetic data (domain shift between sites)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class VendorProfile:
    """How one vendor's images look.

    `name` is the DICOM Manufacturer. `pixel_spacing_mm` is the MR in-plane spacing at a 128 matrix (the field
    of view stays fixed, so other matrix sizes scale it by 128 / size); ultrasound uses a sixth of it.
    `blur_sigma` is in pixels; `noise_sigma` is relative to a [0, 1] intensity range.
    """

    name: str
    intensity_scale: float
    intensity_gamma: float
    noise_sigma: float
    bias_field_strength: float
    pixel_spacing_mm: float
    blur_sigma: float


VENDORS: dict[str, VendorProfile] = {
    "siemens": VendorProfile(
        name="SIEMENS",
        intensity_scale=1.0,
        intensity_gamma=1.0,
        noise_sigma=0.025,
        bias_field_strength=0.10,
        pixel_spacing_mm=1.8,
        blur_sigma=0.4,
    ),
    "ge": VendorProfile(
        name="GE MEDICAL SYSTEMS",
        intensity_scale=0.82,
        intensity_gamma=1.35,
        noise_sigma=0.05,
        bias_field_strength=0.25,
        pixel_spacing_mm=1.5,
        blur_sigma=0.9,
    ),
    "philips": VendorProfile(
        name="Philips",
        intensity_scale=0.93,
        intensity_gamma=0.75,
        noise_sigma=0.035,
        bias_field_strength=0.18,
        pixel_spacing_mm=2.0,
        blur_sigma=0.6,
    ),
}


def get_vendor(vendor: str) -> VendorProfile:
    """Look a profile up by key ("siemens", "ge", "philips"), case-insensitively."""
    try:
        return VENDORS[vendor.lower()]
    except KeyError:
        raise ValueError(f"unknown vendor {vendor!r}; expected one of {sorted(VENDORS)}") from None


def smooth_bias_field(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field (H, W) float32 around 1, within 1 +/- strength (a random plane plus a
    quadratic bowl, as from coil sensitivity)."""
    h, w = shape
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    ang = rng.uniform(0.0, 2.0 * np.pi)
    cy, cx = rng.uniform(-0.5, 0.5, size=2)
    field = 0.6 * (np.cos(ang) * x + np.sin(ang) * y) - 0.4 * ((x - cx) ** 2 + (y - cy) ** 2)
    field = field - field.mean()
    field = field / max(float(np.abs(field).max()), 1e-6)
    return (1.0 + strength * field).astype(np.float32)


def apply_vendor(
    clean: np.ndarray, profile: VendorProfile, rng: np.random.Generator, *, rician: bool = True
) -> np.ndarray:
    """Apply contrast curve, scale, bias field, blur and noise to clean images (..., H, W) in [0, 1].

    One bias field is shared by all leading indices (same coil, same patient). Returns float32 in [0, 1].
    """
    img = np.clip(clean, 0.0, 1.0).astype(np.float32) ** np.float32(profile.intensity_gamma)
    img = img * np.float32(profile.intensity_scale)
    img = img * smooth_bias_field(img.shape[-2:], profile.bias_field_strength, rng)
    if profile.blur_sigma > 0:
        sigma = (0.0,) * (img.ndim - 2) + (profile.blur_sigma, profile.blur_sigma)
        img = ndimage.gaussian_filter(img, sigma=sigma, mode="nearest")
    n1 = rng.normal(0.0, profile.noise_sigma, size=img.shape).astype(np.float32)
    if rician:
        n2 = rng.normal(0.0, profile.noise_sigma, size=img.shape).astype(np.float32)
        img = np.sqrt((img + n1) ** 2 + n2**2)
    else:
        img = img + n1
    return np.clip(img, 0.0, 1.0).astype(np.float32)
