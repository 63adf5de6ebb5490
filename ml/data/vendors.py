"""Scanner-vendor appearance profiles for the synthetic data (domain shift between sites)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class VendorProfile:
    """How one vendor's images look.

    `name` is the DICOM Manufacturer. `pixel_spacing_mm` is the MR in-plane spacing at a 128 matrix (the field
    of view stays fixed, so other matrix sizes scale it by 128 / size); ultrasound uses a sixth of it.
    `blur_sigma` is in pixels; `noise_sigma` is relative to a [0, 1] intensity range.

    The last three fields are neutral by default and set only by the "distinct" appearance (see
    `DISTINCT_VENDORS`): `transfer_curve` is a piecewise-linear intensity map given as knots ((x, y), ...)
    with ascending x, applied to the clean image before everything else (it models a different sequence
    or reconstruction; it need not be monotonic); `noise_model` overrides the caller's choice of noise
    ("rician", "gaussian" or "multiplicative", speckle-like); `noise_correlation_px` smooths the noise field
    (Gaussian sigma in pixels, standard deviation kept), as from a different reconstruction filter.
    """

    name: str
    intensity_scale: float
    intensity_gamma: float
    noise_sigma: float
    bias_field_strength: float
    pixel_spacing_mm: float
    blur_sigma: float
    transfer_curve: tuple[tuple[float, float], ...] = ()
    noise_model: Literal["", "rician", "gaussian", "multiplicative"] = ""
    noise_correlation_px: float = 0.0


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


Appearance = Literal["standard", "distinct"]

# A stronger, vendor-specific look for domain-shift experiments: each vendor gets its own intensity
# transfer curve, noise model and texture, on top of the standard profile (same names and spacings, so
# geometry and volumes are unchanged). A model trained on two of them degrades on the third.
DISTINCT_VENDORS: dict[str, VendorProfile] = {
    "siemens": replace(
        VENDORS["siemens"],
        transfer_curve=((0.0, 0.0), (0.3, 0.22), (0.6, 0.62), (1.0, 1.0)),
        noise_model="rician",
        noise_sigma=0.03,
    ),
    "philips": replace(
        VENDORS["philips"],
        intensity_gamma=0.9,
        transfer_curve=((0.0, 0.05), (0.35, 0.3), (0.7, 0.8), (1.0, 0.95)),
        noise_model="gaussian",
        noise_sigma=0.04,
        noise_correlation_px=0.7,
    ),
    # Dark tissue lifted and bright tissue compressed, with the myocardium-to-tissue contrast reversed,
    # heavier blur and coarse multiplicative (speckle-like) noise.
    "ge": replace(
        VENDORS["ge"],
        intensity_scale=0.9,
        intensity_gamma=1.0,
        transfer_curve=((0.0, 0.15), (0.2, 0.55), (0.45, 0.3), (0.75, 0.75), (1.0, 0.7)),
        noise_model="multiplicative",
        noise_sigma=0.12,
        noise_correlation_px=1.2,
        blur_sigma=1.2,
        bias_field_strength=0.3,
    ),
}


def get_vendor(vendor: str, appearance: Appearance = "standard") -> VendorProfile:
    """Look a profile up by key ("siemens", "ge", "philips"), case-insensitively; `appearance="distinct"`
    gives the stronger domain-shift profile of the same vendor."""
    table = {"standard": VENDORS, "distinct": DISTINCT_VENDORS}.get(appearance)
    if table is None:
        raise ValueError(f"unknown appearance {appearance!r}; expected 'standard' or 'distinct'")
    try:
        return table[vendor.lower()]
    except KeyError:
        raise ValueError(f"unknown vendor {vendor!r}; expected one of {sorted(VENDORS)}") from None


def transfer(image: np.ndarray, curve: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Piecewise-linear intensity map through the knots `curve` ((x, y), ...), flat outside them."""
    if not curve:
        return image
    xs = np.array([k[0] for k in curve], dtype=np.float64)
    if np.any(np.diff(xs) <= 0):
        raise ValueError("transfer curve knots need strictly ascending x")
    ys = np.array([k[1] for k in curve], dtype=np.float64)
    return np.interp(image, xs, ys).astype(np.float32)


def _noise(
    shape: tuple[int, ...], sigma: float, correlation_px: float, rng: np.random.Generator
) -> np.ndarray:
    n = rng.normal(0.0, sigma, size=shape).astype(np.float32)
    if correlation_px > 0:
        blur = (0.0,) * (len(shape) - 2) + (correlation_px, correlation_px)
        n = ndimage.gaussian_filter(n, sigma=blur, mode="wrap")
        n *= np.float32(sigma / max(float(n.std()), 1e-9))
    return n


def smooth_bias_field(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field (H, W) float32 around 1, within 1 +/- strength (a random plane plus a
    quadratic bowl, as from coil sensitivity)."""
    ang = rng.uniform(0.0, 2.0 * np.pi)
    cy, cx = rng.uniform(-0.5, 0.5, size=2)
    return bias_field_at(shape, strength, float(ang), (float(cy), float(cx)))


def bias_field_at(
    shape: tuple[int, int], strength: float, angle: float, centre: tuple[float, float]
) -> np.ndarray:
    """The field of smooth_bias_field for a given plane direction `angle` (radians) and bowl `centre`
    (y, x in [-1, 1] coordinates)."""
    h, w = shape
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    cy, cx = centre
    field = 0.6 * (np.cos(angle) * x + np.sin(angle) * y) - 0.4 * ((x - cx) ** 2 + (y - cy) ** 2)
    field = field - field.mean()
    field = field / max(float(np.abs(field).max()), 1e-6)
    return (1.0 + strength * field).astype(np.float32)


def apply_vendor(
    clean: np.ndarray, profile: VendorProfile, rng: np.random.Generator, *, rician: bool = True
) -> np.ndarray:
    """Apply contrast curve, scale, bias field, blur and noise to clean images (..., H, W) in [0, 1].

    One bias field is shared by all leading indices (same coil, same patient). Returns float32 in [0, 1].
    `rician` picks the noise model unless the profile sets its own.
    """
    img = np.clip(clean, 0.0, 1.0).astype(np.float32)
    img = transfer(img, profile.transfer_curve) ** np.float32(profile.intensity_gamma)
    img = img * np.float32(profile.intensity_scale)
    img = img * smooth_bias_field(img.shape[-2:], profile.bias_field_strength, rng)
    if profile.blur_sigma > 0:
        sigma = (0.0,) * (img.ndim - 2) + (profile.blur_sigma, profile.blur_sigma)
        img = ndimage.gaussian_filter(img, sigma=sigma, mode="nearest")
    model = profile.noise_model or ("rician" if rician else "gaussian")
    if profile.noise_model or profile.noise_correlation_px:
        n = _noise(img.shape, profile.noise_sigma, profile.noise_correlation_px, rng)
        if model == "rician":
            n2 = _noise(img.shape, profile.noise_sigma, profile.noise_correlation_px, rng)
            img = np.sqrt((img + n) ** 2 + n2**2)
        elif model == "multiplicative":
            img = img * (1.0 + n)
        else:
            img = img + n
        return np.clip(img, 0.0, 1.0).astype(np.float32)
    # The standard profiles keep their original random stream (existing data sets stay identical).
    n1 = rng.normal(0.0, profile.noise_sigma, size=img.shape).astype(np.float32)
    if rician:
        n2 = rng.normal(0.0, profile.noise_sigma, size=img.shape).astype(np.float32)
        img = np.sqrt((img + n1) ** 2 + n2**2)
    else:
        img = img + n1
    return np.clip(img, 0.0, 1.0).astype(np.float32)
