"""Clinical measures of the ventricles from short-axis cine label maps (0 bg, 1 LV, 2 Myo, 3 RV).

Volumes sum voxels over slices (Simpson's method of discs with disc height = slice spacing), in mL.
ED and ES are the phases of largest and smallest LV volume; the RV is measured at the same phases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

LV, MYO, RV = 1, 2, 3
MYOCARDIAL_DENSITY_G_PER_ML = 1.05

Layout = Literal["SPHW", "PSHW"]


@dataclass(frozen=True)
class CardiacMeasures:
    """Volumes in mL, ejection fractions in %, mass in g; phases are indices into the phase axis."""

    lvedv: float
    lvesv: float
    lvsv: float
    lvef: float
    lvm: float
    rvedv: float
    rvesv: float
    rvsv: float
    rvef: float
    ed_phase: int
    es_phase: int
    lv_volume_curve: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def voxel_volume_ml(pixel_spacing_mm: tuple[float, float], slice_thickness_mm: float) -> float:
    """One voxel's volume in mL (1 mL = 1000 mm^3). `slice_thickness_mm` is the slice spacing."""
    return float(pixel_spacing_mm[0]) * float(pixel_spacing_mm[1]) * float(slice_thickness_mm) / 1000.0


def volume_curve(
    labels: np.ndarray,
    label: int,
    pixel_spacing_mm: tuple[float, float],
    slice_thickness_mm: float,
    layout: Layout = "SPHW",
) -> np.ndarray:
    """Volume of `label` per phase, (P,) float64 in mL, from (S, P, H, W) or (P, S, H, W) labels."""
    lab = np.asarray(labels)
    if lab.ndim != 4:
        raise ValueError(f"labels must be 4-D ({layout}), got shape {lab.shape}")
    counts = (lab == label).sum(axis=(2, 3))  # (S, P) or (P, S)
    per_phase = counts.sum(axis=0) if layout == "SPHW" else counts.sum(axis=1)
    return per_phase.astype(np.float64) * voxel_volume_ml(pixel_spacing_mm, slice_thickness_mm)


def _ef(edv: float, esv: float) -> float:
    return 100.0 * (edv - esv) / edv if edv > 0 else float("nan")


def cardiac_measures(
    labels: np.ndarray,
    pixel_spacing_mm: tuple[float, float],
    slice_thickness_mm: float,
    *,
    layout: Layout = "SPHW",
    ed_phase: int | None = None,
    es_phase: int | None = None,
) -> CardiacMeasures:
    """LVEDV, LVESV, LVSV, LVEF, LVM (myocardium at ED x 1.05 g/mL), RVEDV, RVESV, RVSV, RVEF.

    ED/ES default to the argmax/argmin of the LV volume curve; pass them to use annotated phases.
    """
    lv = volume_curve(labels, LV, pixel_spacing_mm, slice_thickness_mm, layout)
    myo = volume_curve(labels, MYO, pixel_spacing_mm, slice_thickness_mm, layout)
    rv = volume_curve(labels, RV, pixel_spacing_mm, slice_thickness_mm, layout)
    ed = int(np.argmax(lv)) if ed_phase is None else int(ed_phase)
    es = int(np.argmin(lv)) if es_phase is None else int(es_phase)
    lvedv, lvesv = float(lv[ed]), float(lv[es])
    rvedv, rvesv = float(rv[ed]), float(rv[es])
    return CardiacMeasures(
        lvedv=lvedv,
        lvesv=lvesv,
        lvsv=lvedv - lvesv,
        lvef=_ef(lvedv, lvesv),
        lvm=float(myo[ed]) * MYOCARDIAL_DENSITY_G_PER_ML,
        rvedv=rvedv,
        rvesv=rvesv,
        rvsv=rvedv - rvesv,
        rvef=_ef(rvedv, rvesv),
        ed_phase=ed,
        es_phase=es,
        lv_volume_curve=tuple(float(v) for v in lv),
    )
