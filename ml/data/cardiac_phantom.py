"""Synthetic short-axis bSSFP cine stacks with exact ground-truth labels (bg, LV, Myo, RV).

Geometry is drawn in millimetres and rasterised with the vendor's pixel spacing, so volumes computed as
`count(labels == k) * px * py * slice_spacing_mm` are physical. Slices run base -> apex and touch (the slice
thickness equals the slice spacing), so the stack covers the same 80 mm long axis whatever `n_slices` is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ml.data.vendors import Appearance, apply_vendor, get_vendor

LABEL_BACKGROUND = 0
LABEL_LV = 1
LABEL_MYO = 2
LABEL_RV = 3
LABEL_NAMES: tuple[str, ...] = ("background", "LV", "Myo", "RV")

_LONG_AXIS_MM = 80.0
_RV_APEX_DEPTH = 0.86  # the RV ends before the LV apex


@dataclass
class CardiacCine:
    """A short-axis cine stack.

    image: (S, P, H, W) float32 in [0, 1]; labels: (S, P, H, W) uint8 (0 bg, 1 LV blood pool, 2 LV myocardium,
    3 RV); slices ordered base -> apex; pixel_spacing_mm is (row, col); trigger_times_ms: (P,).
    """

    image: np.ndarray
    labels: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    slice_thickness_mm: float
    slice_spacing_mm: float
    trigger_times_ms: np.ndarray
    vendor: str
    ed_phase: int
    es_phase: int

    @property
    def voxel_volume_ml(self) -> float:
        return self.pixel_spacing_mm[0] * self.pixel_spacing_mm[1] * self.slice_spacing_mm / 1000.0

    def volume_curve_ml(self, label: int = LABEL_LV) -> np.ndarray:
        """(P,) volume of one label per phase, in mL."""
        return (self.labels == label).sum(axis=(0, 2, 3)).astype(np.float64) * self.voxel_volume_ml


def volume_fraction(tau: np.ndarray, tau_es: float, diastasis: float = 0.8) -> np.ndarray:
    """Normalised volume (0 at ES, 1 at ED) over the RR interval, tau in [0, 1).

    Systole: a half-cosine ejection from ED (tau = 0) to ES. Diastole: rapid filling to `diastasis`, a plateau,
    and the atrial kick that brings it back to 1 at the next R wave.
    """
    tau = np.asarray(tau, dtype=np.float64)
    out = np.empty_like(tau)
    sys = tau <= tau_es
    out[sys] = 1.0 - (1.0 - np.cos(np.pi * tau[sys] / tau_es)) / 2.0
    u = (tau[~sys] - tau_es) / (1.0 - tau_es)
    rapid = (1.0 - np.cos(np.pi * np.clip(u / 0.45, 0.0, 1.0))) / 2.0
    kick_t = np.clip((u - 0.75) / 0.25, 0.0, 1.0)
    kick = kick_t * kick_t * (3.0 - 2.0 * kick_t)
    out[~sys] = diastasis * rapid + (1.0 - diastasis) * kick
    return out


def _ellipse(
    x: np.ndarray, y: np.ndarray, cx: float, cy: float, a: float, b: float, ang: float
) -> np.ndarray:
    """Boolean mask of an ellipse with semi-axes a (along `ang`) and b, in the coordinates' units."""
    dx, dy = x - cx, y - cy
    c, s = np.cos(ang), np.sin(ang)
    u = dx * c + dy * s
    v = -dx * s + dy * c
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def _texture(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth zero-mean unit-std random texture (H, W)."""
    t = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma, mode="wrap")
    return (t - t.mean()) / max(float(t.std()), 1e-6)


def make_cardiac_cine(
    seed: int,
    *,
    n_slices: int = 10,
    n_phases: int = 25,
    size: int = 128,
    vendor: str = "siemens",
    rr_ms: float = 1000.0,
    appearance: Appearance = "standard",
) -> CardiacCine:
    """A random short-axis cine, deterministic from `seed`. See CardiacCine for the layout.

    LVEDV is drawn in 110-170 mL and EF in 50-65 %; ED is phase 0 and ES sits at 35-40 % of the RR interval
    (ed_phase / es_phase are read back from the label volume curve, so they agree with the labels).
    `appearance="distinct"` renders with the vendor's stronger domain-shift profile (same anatomy and labels
    for the same seed).
    """
    if n_slices < 2 or n_phases < 4 or size < 32:
        raise ValueError("need n_slices >= 2, n_phases >= 4 and size >= 32")
    profile = get_vendor(vendor, appearance)
    rng = np.random.default_rng(seed)
    sp = profile.pixel_spacing_mm * 128.0 / size
    slice_spacing = _LONG_AXIS_MM / n_slices

    # Pixel-centre coordinates in mm, origin at the image centre, y down.
    coords = (np.arange(size, dtype=np.float64) - (size - 1) / 2.0) * sp
    y, x = np.meshgrid(coords, coords, indexing="ij")

    # Per-subject anatomy.
    edv_ml = rng.uniform(110.0, 170.0)
    ef = rng.uniform(0.50, 0.65)
    aspect = rng.uniform(0.82, 1.0)  # b / a of the LV cavity
    lv_ang = rng.uniform(0.0, np.pi)
    wall_mm = rng.uniform(6.5, 9.0)
    depth = (np.arange(n_slices) + 0.5) / n_slices  # 0 base -> 1 apex
    taper = np.sqrt(np.clip(1.0 - 0.9 * depth**2, 0.05, None))  # cavity radius profile
    # Solve EDV = sum_s pi a b taper^2 * slice_spacing for a.
    a_ed = np.sqrt(edv_ml * 1000.0 / (np.pi * aspect * slice_spacing * float(np.sum(taper**2))))
    max_c = 0.25 * sp * size - a_ed - wall_mm
    cx, cy = rng.uniform(-max_c, max_c), rng.uniform(-max_c, max_c)
    cx += 0.05 * sp * size  # LV sits slightly right of centre, the RV to its left
    rv_dir = np.pi + rng.uniform(-0.6, 0.6)
    rv_scale = rng.uniform(0.8, 0.95)
    rv_ef = rng.uniform(0.45, 0.6)

    i_blood = rng.uniform(0.82, 0.95)
    i_rv_blood = i_blood * rng.uniform(0.9, 1.0)
    i_myo = rng.uniform(0.15, 0.25)
    i_tissue = rng.uniform(0.4, 0.55)
    i_fat = rng.uniform(0.7, 0.85)
    i_lung = rng.uniform(0.03, 0.08)
    i_liver = rng.uniform(0.3, 0.42)

    # Cardiac cycle.
    es_target = rng.uniform(0.35, 0.40)
    es_design = max(1, round(es_target * n_phases))
    tau = np.arange(n_phases) / n_phases
    frac = volume_fraction(tau, es_design / n_phases)
    lv_vol_frac = 1.0 - ef * (1.0 - frac)  # V / EDV
    rv_vol_frac = 1.0 - rv_ef * (1.0 - frac)

    # Body, lungs, liver: fixed per slice (breath-hold), one texture per slice.
    half_fov = sp * size / 2.0
    body_a, body_b = half_fov * rng.uniform(1.05, 1.25), half_fov * rng.uniform(0.8, 0.95)
    body_cy = rng.uniform(-0.1, 0.1) * half_fov
    clean = np.empty((n_slices, n_phases, size, size), dtype=np.float32)
    labels = np.zeros((n_slices, n_phases, size, size), dtype=np.uint8)
    for s in range(n_slices):
        body = _ellipse(x, y, 0.0, body_cy, body_a, body_b, 0.0)
        inner = _ellipse(x, y, 0.0, body_cy, body_a - 12.0, body_b - 12.0, 0.0)
        tex = _texture(rng, (size, size), 2.0 / sp * 3.0)
        base = np.zeros((size, size), dtype=np.float32)
        base[body] = i_fat
        base[inner] = i_tissue
        for side in (-1.0, 1.0):
            lcx = cx + side * rng.uniform(55.0, 70.0)
            lung = _ellipse(
                x, y, lcx, cy + rng.uniform(5.0, 25.0), rng.uniform(30, 42), rng.uniform(40, 55), 0.3
            )
            base[lung & inner] = i_lung
        if depth[s] > 0.45:  # liver comes into the inferior (apical) slices
            liver_r = 50.0 + 60.0 * (depth[s] - 0.45)
            base[_ellipse(x, y, cx - 20.0, cy + 85.0, liver_r * 1.3, liver_r, 0.2) & inner] = i_liver
        base = (base * (1.0 + 0.12 * tex)).astype(np.float32)
        # Tissue around the heart (pericardium, mediastinal fat) so lungs never touch the heart.
        peri = _ellipse(x, y, cx - 12.0, cy, a_ed + wall_mm + 34.0, a_ed + wall_mm + 26.0, lv_ang)
        base[peri] = (i_tissue * (1.0 + 0.12 * tex))[peri]
        fat_patch = peri & ~_ellipse(
            x, y, cx - 12.0, cy, a_ed + wall_mm + 30.0, a_ed + wall_mm + 22.0, lv_ang
        )
        base[fat_patch & (tex > 0.3)] = i_fat

        for p in range(n_phases):
            k = np.sqrt(lv_vol_frac[p])
            a = a_ed * taper[s] * k
            b = a * aspect
            # Myocardial area conserved through the cycle: solve pi((a+w)(b+w) - ab) = const for w.
            a0, b0 = a_ed * taper[s], a_ed * taper[s] * aspect
            myo_area = (a0 + wall_mm) * (b0 + wall_mm) - a0 * b0
            w = (-(a + b) + np.sqrt((a + b) ** 2 + 4.0 * myo_area)) / 2.0
            endo = _ellipse(x, y, cx, cy, a, b, lv_ang)
            epi = _ellipse(x, y, cx, cy, a + w, b + w, lv_ang)
            img = base.copy()
            lab = np.zeros((size, size), dtype=np.uint8)
            if depth[s] < _RV_APEX_DEPTH:
                rv_taper = np.sqrt(max(1.0 - (depth[s] / _RV_APEX_DEPTH) ** 2, 0.0))
                r_epi = a0 + wall_mm
                kr = np.sqrt(rv_vol_frac[p])
                # The RV wraps the septum: an ellipse pushed to one side, minus the LV.
                off = r_epi * (0.5 + 0.35 * kr * rv_taper)
                rcx, rcy = cx + off * np.cos(rv_dir), cy + off * np.sin(rv_dir)
                ra = r_epi * rv_scale * (0.25 + 0.75 * kr**3 * rv_taper)
                rb = r_epi * rv_scale * (0.9 + 0.45 * rv_taper) * (0.45 + 0.55 * kr)
                rv = _ellipse(x, y, rcx, rcy, ra, rb, rv_dir) & ~epi
                # Thin RV free wall (unlabelled, myocardium-dark) keeps the RV off the pericardial fat.
                rv_wall = _ellipse(x, y, rcx, rcy, ra + 3.0, rb + 3.0, rv_dir) & ~epi & ~rv
                img[rv_wall] = i_myo
                img[rv] = i_rv_blood
                lab[rv] = LABEL_RV
            img[epi] = i_myo
            img[endo] = i_blood
            lab[epi] = LABEL_MYO
            lab[endo] = LABEL_LV
            clean[s, p] = img
            labels[s, p] = lab

    # Mild inflow texture in the blood and granular myocardium (labels unchanged).
    grain = rng.standard_normal(clean.shape).astype(np.float32)
    grain = ndimage.gaussian_filter(grain, sigma=(0, 0, 1.0, 1.0))
    clean = clean * (1.0 + 0.06 * grain)
    image = apply_vendor(clean, profile, rng)

    spacing = (float(sp), float(sp))
    lv_curve = (labels == LABEL_LV).sum(axis=(0, 2, 3))
    return CardiacCine(
        image=image,
        labels=labels,
        pixel_spacing_mm=spacing,
        slice_thickness_mm=float(slice_spacing),
        slice_spacing_mm=float(slice_spacing),
        trigger_times_ms=(tau * rr_ms).astype(np.float64),
        vendor=vendor.lower(),
        ed_phase=int(np.argmax(lv_curve)),
        es_phase=int(np.argmin(lv_curve)),
    )


def cardiac_kspace(image: np.ndarray) -> np.ndarray:
    """Centred orthonormal 2D FFT over the last two axes: (..., H, W) real or complex -> complex64."""
    x = np.fft.ifftshift(np.asarray(image), axes=(-2, -1))
    k = np.fft.fft2(x, axes=(-2, -1), norm="ortho")
    return np.fft.fftshift(k, axes=(-2, -1)).astype(np.complex64)


def kspace_to_image(k: np.ndarray) -> np.ndarray:
    """Inverse of cardiac_kspace: (..., H, W) centred k-space -> complex64 image."""
    x = np.fft.ifftshift(np.asarray(k), axes=(-2, -1))
    img = np.fft.ifft2(x, axes=(-2, -1), norm="ortho")
    return np.fft.fftshift(img, axes=(-2, -1)).astype(np.complex64)
