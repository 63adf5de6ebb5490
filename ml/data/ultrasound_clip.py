"""Synthetic fetal-ultrasound frames and sweeps for the 14 SonoNet classes (13 standard planes + background).

Each plane is drawn as a small vector scene in "anatomy units" (about [-1, 1]), placed in a sector field of
view with a random pose (position, scale, rotation, mirror), then multiplied by correlated Rayleigh speckle.
The scene's random details come from a scene seed and the speckle from a separate stream, so a clip can
move the same anatomy smoothly from frame to frame.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ml.data.planes import BACKGROUND_INDEX, PLANES
from ml.data.vendors import Appearance, apply_vendor, get_vendor

BBox = tuple[int, int, int, int]
"""(y0, x0, y1, x1) with y1, x1 exclusive; (0, 0, 0, 0) means no anatomy (background)."""

_FAN_HALF_ANGLE = 0.62  # rad
_RGB_TINT = np.array([1.0, 0.96, 0.88], dtype=np.float32)

FLUID = 0.05
SOFT = 0.35
BONE = 0.95


@dataclass
class UltrasoundClip:
    """frames: (F, H, W) uint8, or (F, H, W, 3) when rgb; labels: (F,) int64 indices into PLANES."""

    frames: np.ndarray
    labels: np.ndarray
    rgb: bool
    vendor: str
    frame_time_ms: float
    pixel_spacing_mm: tuple[float, float]


@dataclass(frozen=True)
class Pose:
    """Where the anatomy sits: centre (pixels), pixels per anatomy unit, rotation (rad), mirror."""

    cy: float
    cx: float
    scale: float
    angle: float
    mirror: bool

    def moved(self, dy: float, dx: float, dscale: float, dangle: float) -> Pose:
        return Pose(self.cy + dy, self.cx + dx, self.scale * (1.0 + dscale), self.angle + dangle, self.mirror)


class _Scene:
    """Paints shapes given in anatomy units onto an echogenicity map, recording the anatomy's footprint."""

    def __init__(self, tissue: np.ndarray, pose: Pose, rng: np.random.Generator) -> None:
        h, w = tissue.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        dy, dx = yy - pose.cy, xx - pose.cx
        c, s = np.cos(pose.angle), np.sin(pose.angle)
        self.u = (dx * c + dy * s) / pose.scale
        self.v = (-dx * s + dy * c) / pose.scale
        if pose.mirror:
            self.u = -self.u
        self.tissue = tissue
        self.anatomy = np.zeros((h, w), dtype=bool)
        self.rng = rng

    def j(self, x: float, rel: float = 0.08) -> float:
        """x jittered by a relative amount (per-scene anatomical variation)."""
        return float(x * (1.0 + self.rng.uniform(-rel, rel)))

    def ellipse(self, cu: float, cv: float, a: float, b: float, ang: float = 0.0) -> np.ndarray:
        du, dv = self.u - cu, self.v - cv
        c, s = np.cos(ang), np.sin(ang)
        p = du * c + dv * s
        q = -du * s + dv * c
        return (p / a) ** 2 + (q / b) ** 2 <= 1.0

    def ring(self, cu: float, cv: float, a: float, b: float, t: float, ang: float = 0.0) -> np.ndarray:
        return self.ellipse(cu, cv, a, b, ang) & ~self.ellipse(cu, cv, a - t, b - t, ang)

    def capsule(self, p0: tuple[float, float], p1: tuple[float, float], r: float) -> np.ndarray:
        (u0, v0), (u1, v1) = p0, p1
        du, dv = u1 - u0, v1 - v0
        length2 = max(du * du + dv * dv, 1e-12)
        t = np.clip(((self.u - u0) * du + (self.v - v0) * dv) / length2, 0.0, 1.0)
        return (self.u - u0 - t * du) ** 2 + (self.v - v0 - t * dv) ** 2 <= r * r

    def polyline(self, pts: list[tuple[float, float]], r: float) -> np.ndarray:
        m = np.zeros_like(self.anatomy)
        for p0, p1 in itertools.pairwise(pts):
            m |= self.capsule(p0, p1, r)
        return m

    def paint(self, mask: np.ndarray, value: float, *, anatomy: bool = True) -> None:
        self.tissue[mask] = value * self.rng.uniform(0.9, 1.1)
        if anatomy:
            self.anatomy |= mask


def _head(sc: _Scene) -> None:
    sc.paint(sc.ellipse(0, 0, 1.0, 0.8), 0.22)
    sc.paint(sc.ring(0, 0, 1.0, 0.8, sc.j(0.09)), BONE)
    sc.paint(sc.capsule((-0.85, 0.0), (0.85, 0.0), 0.018), 0.7)


def _brain_tv(sc: _Scene) -> None:
    _head(sc)
    sc.paint(sc.ellipse(sc.j(-0.38), 0, sc.j(0.13), 0.07), FLUID)  # cavum septi pellucidi
    for side in (-1.0, 1.0):
        v = side * sc.j(0.2)
        sc.paint(sc.ellipse(sc.j(0.38), v, sc.j(0.32), 0.08), FLUID)  # lateral ventricle
        sc.paint(sc.ellipse(sc.j(0.42), v, sc.j(0.16), 0.055), 0.85)  # choroid plexus


def _brain_cb(sc: _Scene) -> None:
    _head(sc)
    sc.paint(sc.ellipse(sc.j(-0.38), 0, sc.j(0.13), 0.07), FLUID)
    for side in (-1.0, 1.0):
        sc.paint(sc.ellipse(sc.j(-0.05), side * 0.12, 0.14, 0.09), 0.4)  # thalami
    cu = sc.j(0.52)
    sc.paint(sc.ellipse(cu + 0.28, 0, sc.j(0.12), sc.j(0.28)), FLUID)  # cisterna magna
    for side in (-1.0, 1.0):
        sc.paint(sc.ellipse(cu, side * sc.j(0.2), 0.17, 0.16), 0.55)  # cerebellar hemispheres
        sc.paint(sc.ring(cu, side * 0.2, 0.17, 0.16, 0.04), 0.85)
    sc.paint(sc.ellipse(cu, 0, 0.1, 0.09), 0.9)  # vermis


def _spine_triangle(sc: _Scene, cu: float, cv: float, r: float = 0.07) -> None:
    for du, dv in ((0.0, 0.0), (-0.13, -0.12), (0.13, -0.12)):
        sc.paint(sc.ellipse(cu + du, cv + dv, r, r), BONE)


def _abdominal(sc: _Scene) -> None:
    r = sc.j(0.85)
    sc.paint(sc.ellipse(0, 0, r, r), SOFT)
    sc.paint(sc.ring(0, 0, r, r, 0.06), 0.65)
    sc.paint(sc.ellipse(sc.j(-0.32), sc.j(0.12), sc.j(0.22), sc.j(0.15), 0.3), FLUID)  # stomach bubble
    sc.paint(sc.capsule((0.0, -0.6 * r), (sc.j(0.25), -0.1), 0.05), 0.08)  # umbilical vein
    _spine_triangle(sc, 0.0, 0.72 * r)
    for side in (-1.0, 1.0):
        sc.paint(sc.capsule((side * 0.45 * r, 0.5 * r), (side * 0.7 * r, 0.2 * r), 0.03), 0.8)  # ribs


def _kidneys(sc: _Scene) -> None:
    r = sc.j(0.85)
    sc.paint(sc.ellipse(0, 0, r, r * 0.95), SOFT)
    sc.paint(sc.ring(0, 0, r, r * 0.95, 0.05), 0.6)
    _spine_triangle(sc, 0.0, 0.5)
    for side in (-1.0, 1.0):
        cu, cv = side * sc.j(0.42), sc.j(0.3)
        ang = side * 0.35
        sc.paint(sc.ellipse(cu, cv, 0.21, 0.32, ang), 0.75)  # bright capsule
        sc.paint(sc.ellipse(cu, cv, 0.17, 0.28, ang), 0.18)  # cortex
        sc.paint(sc.ellipse(cu, cv, 0.05, 0.12, ang), FLUID)  # pelvis


def _femur(sc: _Scene) -> None:
    sc.paint(sc.ellipse(0, 0, 1.0, 0.42), SOFT)
    half = sc.j(0.75)
    sc.paint((np.abs(sc.u) < half) & (sc.v > 0.05) & (sc.v < 0.42), 0.04)  # acoustic shadow
    sc.paint(sc.capsule((-half, 0.0), (half, sc.j(0.04, 1.0)), 0.065), 1.0)


def _spine_sag(sc: _Scene) -> None:
    sc.paint(sc.ellipse(0, 0, 1.05, 0.4), 0.3)
    sc.paint(sc.capsule((-1.0, -0.34), (1.0, -0.3), 0.025), 0.75)  # skin line
    n = 10
    for i in range(n):
        u = -0.9 + 1.8 * i / (n - 1)
        gap = 0.16 - 0.07 * i / (n - 1)  # the rows converge toward the sacrum
        for side in (-1.0, 1.0):
            sc.paint(sc.ellipse(u, side * gap, 0.065, 0.045), BONE)


def _spine_cor(sc: _Scene) -> None:
    sc.paint(sc.ellipse(0, 0, 1.05, 0.5), 0.3)
    n = 9
    for i in range(n):
        u = -0.9 + 1.8 * i / (n - 1)
        spread = 0.24 + 0.1 * (i / (n - 1)) ** 2  # the laminae splay at the pelvis
        sc.paint(sc.ellipse(u, 0.0, 0.07, 0.07), BONE)
        for side in (-1.0, 1.0):
            sc.paint(sc.ellipse(u, side * spread, 0.05, 0.05), 0.85)


def _lips(sc: _Scene) -> None:
    sc.paint(sc.ellipse(0, 0.05, 0.75, 0.85), 0.3)
    sc.paint(sc.ellipse(0, -0.55, sc.j(0.38), 0.22), 0.5)  # nose
    for side in (-1.0, 1.0):
        sc.paint(sc.ellipse(side * sc.j(0.17), -0.55, 0.08, 0.07), FLUID)  # nostrils
    bow = sc.j(0.1)
    sc.paint(
        sc.polyline(
            [(-0.6, -0.1), (-0.25, -0.12 - bow), (0.0, -0.1), (0.25, -0.12 - bow), (0.6, -0.1)], 0.07
        ),
        0.8,
    )
    sc.paint(sc.capsule((-0.55, 0.03), (0.55, 0.03), 0.028), FLUID)  # mouth
    sc.paint(sc.polyline([(-0.5, 0.12), (0.0, sc.j(0.3)), (0.5, 0.12)], 0.08), 0.8)  # lower lip
    sc.paint(sc.ellipse(0, 0.62, 0.42, 0.17), 0.5)  # chin


def _profile(sc: _Scene) -> None:
    vs = np.array([-1.0, -0.6, -0.35, -0.15, 0.0, 0.12, 0.22, 0.32, 0.45, 0.62, 0.95])
    us = np.array([0.2, 0.32, 0.26, 0.62, 0.3, 0.42, 0.28, 0.4, 0.24, 0.4, 0.08])
    us = us * np.array([sc.j(1.0) for _ in us])
    edge = np.interp(sc.v, vs, us)
    face = (sc.u < edge) & (sc.u > -0.75) & (sc.v > -1.0) & (sc.v < 0.95)
    sc.paint(face, 0.42)
    sc.paint(sc.polyline([(float(u), float(v)) for u, v in zip(us, vs, strict=True)], 0.035), 0.85)  # skin
    sc.paint(sc.capsule((0.2, -0.35), (0.35, -0.2), 0.03), BONE)  # nasal bone
    sc.paint(sc.ring(-0.45, -0.5, 0.5, 0.45, 0.06), 0.8, anatomy=True)  # frontal bone


def _thorax(sc: _Scene) -> None:
    r = sc.j(0.95)
    sc.paint(sc.ellipse(0, 0, r, r * 0.92), 0.3)
    for k in range(7):  # ribs: a dashed ring
        a0 = -0.2 + k * 0.9
        sc.paint(
            sc.ring(0, 0, r, r * 0.92, 0.06)
            & (np.abs(np.angle(np.exp(1j * (np.arctan2(sc.v, sc.u) - a0)))) < 0.3),
            0.8,
        )
    sc.paint(sc.ellipse(0.05, 0.78 * r, 0.08, 0.08), BONE)  # spine


def _four_chamber(sc: _Scene) -> None:
    _thorax(sc)
    ang = sc.j(0.6, 0.3)
    c, s = np.cos(ang), np.sin(ang)

    def rot(p: float, q: float) -> tuple[float, float]:
        return (p * c - q * s, p * s + q * c - 0.05)

    sc.paint(sc.ellipse(0, -0.05, 0.55, 0.5, ang), 0.45)
    for p in (-1.0, 1.0):
        for q in (-1.0, 1.0):
            cu, cv = rot(p * 0.22, q * 0.2)
            sc.paint(sc.ellipse(cu, cv, sc.j(0.17), sc.j(0.15), ang), FLUID)
    sc.paint(sc.capsule(rot(0.0, -0.45), rot(0.0, 0.45), 0.035), 0.8)  # septa
    sc.paint(sc.capsule(rot(-0.45, 0.0), rot(0.45, 0.0), 0.035), 0.8)  # AV valve plane
    sc.paint(sc.ellipse(-0.15, 0.62, 0.08, 0.08), FLUID)  # descending aorta


def _vessel(sc: _Scene, p0: tuple[float, float], p1: tuple[float, float], r: float) -> None:
    sc.paint(sc.capsule(p0, p1, r + 0.035), 0.75)


def _lumen(sc: _Scene, p0: tuple[float, float], p1: tuple[float, float], r: float) -> None:
    sc.paint(sc.capsule(p0, p1, r), FLUID)


def _lvot(sc: _Scene) -> None:
    _thorax(sc)
    sc.paint(sc.ellipse(-0.05, 0.1, 0.5, 0.38, 0.5), 0.45)
    sc.paint(sc.ellipse(-0.1, 0.12, sc.j(0.32), sc.j(0.17), 0.5), FLUID)  # LV
    tip = (sc.j(0.45), -sc.j(0.5))
    _vessel(sc, (-0.05, 0.05), tip, 0.08)
    _lumen(sc, (-0.05, 0.05), tip, 0.08)  # aorta leaving the LV


def _rvot(sc: _Scene) -> None:
    _thorax(sc)
    root, fork = (-0.4, 0.35), (0.0, -0.1)
    left, right = (-0.4, -sc.j(0.5)), (sc.j(0.5), -sc.j(0.35))
    for a, b in ((root, fork), (fork, left), (fork, right)):
        _vessel(sc, a, b, 0.075)
    for a, b in ((root, fork), (fork, left), (fork, right)):
        _lumen(sc, a, b, 0.075)
    sc.paint(sc.ellipse(0.15, 0.2, 0.14, 0.14), 0.75)
    sc.paint(sc.ellipse(0.15, 0.2, 0.1, 0.1), FLUID)  # aorta in cross-section


def _three_vessel(sc: _Scene) -> None:
    _thorax(sc)
    for (cu, cv), r in (((-0.38, -0.28), 0.16), ((0.0, -0.06), 0.12), ((0.32, 0.14), 0.08)):
        cu, cv, r = sc.j(cu, 0.1), sc.j(cv, 0.1), sc.j(r)
        sc.paint(sc.ellipse(cu, cv, r + 0.04, r + 0.04), 0.75)
        sc.paint(sc.ellipse(cu, cv, r, r), FLUID)
    sc.paint(sc.ring(0.2, 0.42, 0.08, 0.08, 0.03), 0.85)  # trachea


_PAINTERS: dict[str, Callable[[_Scene], None]] = {
    "3VV": _three_vessel,
    "4CH": _four_chamber,
    "Abdominal": _abdominal,
    "Brain (Cb.)": _brain_cb,
    "Brain (Tv.)": _brain_tv,
    "Femur": _femur,
    "Kidneys": _kidneys,
    "Lips": _lips,
    "LVOT": _lvot,
    "Profile": _profile,
    "RVOT": _rvot,
    "Spine (cor.)": _spine_cor,
    "Spine (sag.)": _spine_sag,
}


def fan_mask(height: int, width: int) -> np.ndarray:
    """(H, W) bool sector field of view with its apex above the top centre."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ay, ax = -0.06 * height, (width - 1) / 2.0
    r = np.hypot(yy - ay, xx - ax)
    theta = np.arctan2(xx - ax, yy - ay)
    return (np.abs(theta) <= _FAN_HALF_ANGLE) & (r >= 0.12 * height) & (r <= 1.02 * height)


def random_pose(rng: np.random.Generator, height: int, width: int) -> Pose:
    """A pose that keeps the anatomy mostly inside the fan."""
    ay, ax = -0.06 * height, (width - 1) / 2.0
    r = rng.uniform(0.48, 0.62) * height
    theta = rng.uniform(-0.25, 0.25)
    return Pose(
        cy=float(ay + r * np.cos(theta)),
        cx=float(ax + r * np.sin(theta)),
        scale=float(rng.uniform(0.24, 0.31) * height),
        angle=float(rng.uniform(-0.5, 0.5)),
        mirror=bool(rng.random() < 0.5),
    )


def new_speckle(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Complex Gaussian field (H, W); its smoothed magnitude is the Rayleigh speckle."""
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _background_tissue(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Uterine wall / placenta-like texture with random fluid pockets and echogenic blobs."""
    low = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 14.0, mode="nearest")
    low = low / max(float(np.abs(low).max()), 1e-6)
    tissue = (0.28 + 0.12 * low).astype(np.float32)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(3, 8))):
        cy, cx = rng.uniform(0.15, 1.0) * h, rng.uniform(0.1, 0.9) * w
        a, b = rng.uniform(0.04, 0.22) * h, rng.uniform(0.04, 0.22) * h
        ang = rng.uniform(0, np.pi)
        c, s = np.cos(ang), np.sin(ang)
        p = (xx - cx) * c + (yy - cy) * s
        q = -(xx - cx) * s + (yy - cy) * c
        tissue[(p / a) ** 2 + (q / b) ** 2 <= 1.0] = rng.choice([FLUID, 0.15, 0.5, 0.6])
    return tissue


def render_plane(
    plane: int,
    scene_seed: int,
    pose: Pose,
    speckle: np.ndarray,
    noise_rng: np.random.Generator,
    *,
    height: int = 224,
    width: int = 288,
    vendor: str = "ge",
    gain: float = 1.0,
    appearance: Appearance = "standard",
) -> tuple[np.ndarray, BBox]:
    """Render one frame: (H, W) float32 in [0, 1] and the anatomy bbox. Same scene_seed = same anatomy."""
    if not 0 <= plane < len(PLANES):
        raise ValueError(f"plane index {plane} outside 0..{len(PLANES) - 1}")
    profile = get_vendor(vendor, appearance)
    scene_rng = np.random.default_rng(scene_seed)
    tissue = _background_tissue(scene_rng, (height, width))
    fan = fan_mask(height, width)
    anatomy = np.zeros((height, width), dtype=bool)
    if plane != BACKGROUND_INDEX:
        sc = _Scene(tissue, pose, scene_rng)
        sc.paint(sc.ellipse(0, 0, 1.3, 1.15), FLUID * 1.5, anatomy=False)  # amniotic fluid around the fetus
        _PAINTERS[PLANES[plane]](sc)
        anatomy = sc.anatomy & fan
    tissue = ndimage.gaussian_filter(tissue, 1.0)
    spk = np.abs(
        ndimage.gaussian_filter(speckle.real, (0.8, 1.6))
        + 1j * ndimage.gaussian_filter(speckle.imag, (0.8, 1.6))
    )
    spk = spk / max(float(spk.mean()), 1e-6)
    depth = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    img = tissue * (0.75 * spk + 0.25) * gain * (1.1 - 0.25 * depth)
    img = apply_vendor(img, profile, noise_rng, rician=False)
    img[~fan] = 0.0
    if anatomy.any():
        rows, cols = np.nonzero(anatomy)
        bbox: BBox = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    else:
        bbox = (0, 0, 0, 0)
    return img.astype(np.float32), bbox


def make_plane_sample(
    plane: int,
    rng: np.random.Generator,
    *,
    height: int = 224,
    width: int = 288,
    vendor: str = "ge",
    appearance: Appearance = "standard",
) -> tuple[np.ndarray, BBox]:
    """A random frame of one class: (H, W) float32 in [0, 1] and the anatomy bbox (y0, x0, y1, x1), y1/x1
    exclusive, clipped to the fan; (0, 0, 0, 0) for Background."""
    scene_seed = int(rng.integers(0, 2**31 - 1))
    pose = random_pose(rng, height, width)
    speckle = new_speckle(rng, (height, width))
    gain = float(rng.uniform(0.8, 1.2))
    return render_plane(
        plane, scene_seed, pose, speckle, rng, height=height, width=width, vendor=vendor, gain=gain,
        appearance=appearance,
    )  # fmt: skip


def make_plane_image(
    plane: int,
    rng: np.random.Generator,
    *,
    height: int = 224,
    width: int = 288,
    vendor: str = "ge",
    appearance: Appearance = "standard",
) -> np.ndarray:
    """A random frame of one class, (H, W) float32 in [0, 1]."""
    sample = make_plane_sample(plane, rng, height=height, width=width, vendor=vendor, appearance=appearance)
    return sample[0]


def _segment_lengths(rng: np.random.Generator, n_frames: int, n_seg: int) -> list[tuple[int, int]]:
    """[(plane slot, length)] alternating background gaps (slot -1) and dwell segments (slot i)."""
    slots = [-1]
    for i in range(n_seg):
        slots += [i, -1]
    weights = np.array([rng.uniform(0.3, 0.5) if s < 0 else rng.uniform(0.8, 1.2) for s in slots])
    lengths = np.floor(weights / weights.sum() * n_frames).astype(int)
    lengths[1] += n_frames - int(lengths.sum())
    return [(s, int(n)) for s, n in zip(slots, lengths, strict=True) if n > 0]


def make_ultrasound_clip(
    seed: int,
    *,
    n_frames: int = 60,
    height: int = 224,
    width: int = 288,
    vendor: str = "ge",
    rgb: bool = False,
    appearance: Appearance = "standard",
) -> UltrasoundClip:
    """A sweep that dwells on 2-4 standard planes with background between; per-frame labels.

    The pose drifts a little each frame and the speckle decorrelates gradually, as in a real sweep.
    `appearance="distinct"` renders with the vendor's stronger domain-shift profile.
    """
    if n_frames < 1:
        raise ValueError("n_frames must be >= 1")
    profile = get_vendor(vendor, appearance)
    rng = np.random.default_rng(seed)
    standard = [i for i in range(len(PLANES)) if i != BACKGROUND_INDEX]
    n_seg = min(int(rng.integers(2, 5)), max(1, n_frames // 8))
    chosen = rng.choice(standard, size=n_seg, replace=False)
    frames = np.empty((n_frames, height, width), dtype=np.float32)
    labels = np.empty(n_frames, dtype=np.int64)
    speckle = new_speckle(rng, (height, width))
    rho = 0.85
    f = 0
    for slot, length in _segment_lengths(rng, n_frames, n_seg):
        plane = BACKGROUND_INDEX if slot < 0 else int(chosen[slot])
        scene_seed = int(rng.integers(0, 2**31 - 1))
        pose = random_pose(rng, height, width)
        vel = (
            rng.uniform(-1.2, 1.2),
            rng.uniform(-1.5, 1.5),
            rng.uniform(-0.004, 0.004),
            rng.uniform(-0.01, 0.01),
        )
        gain = float(rng.uniform(0.85, 1.15))
        for t in range(length):
            speckle = rho * speckle + np.sqrt(1 - rho**2) * new_speckle(rng, (height, width))
            p = pose.moved(vel[0] * t, vel[1] * t, vel[2] * t, vel[3] * t)
            frames[f], _ = render_plane(
                plane, scene_seed, p, speckle, rng, height=height, width=width, vendor=vendor, gain=gain,
                appearance=appearance,
            )  # fmt: skip
            labels[f] = plane
            f += 1
    grey = np.round(frames * 255.0).astype(np.uint8)
    out = np.round(frames[..., None] * _RGB_TINT * 255.0).astype(np.uint8) if rgb else grey
    sp = profile.pixel_spacing_mm / 6.0
    return UltrasoundClip(
        frames=out,
        labels=labels,
        rgb=rgb,
        vendor=vendor.lower(),
        frame_time_ms=1000.0 / 30.0,
        pixel_spacing_mm=(sp, sp),
    )
