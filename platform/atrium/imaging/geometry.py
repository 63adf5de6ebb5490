"""Pure geometry of DICOM slices: the slice normal and the position of a slice along it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def slice_normal(image_orientation: Sequence[float]) -> np.ndarray:
    """Unit normal of an image plane from ImageOrientationPatient (row cosines, column cosines)."""
    if len(image_orientation) != 6:
        raise ValueError(f"ImageOrientationPatient needs 6 values, got {len(image_orientation)}")
    row = np.asarray(image_orientation[:3], dtype=np.float64)
    col = np.asarray(image_orientation[3:], dtype=np.float64)
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    if norm < 1e-6:
        raise ValueError("ImageOrientationPatient row and column cosines are parallel")
    return normal / norm


def position_along_normal(image_position: Sequence[float], normal: np.ndarray) -> float:
    """Signed distance of a slice from the origin along the normal: ImagePositionPatient · normal."""
    if len(image_position) != 3:
        raise ValueError(f"ImagePositionPatient needs 3 values, got {len(image_position)}")
    return float(np.dot(np.asarray(image_position, dtype=np.float64), normal))


def group_positions(positions: Sequence[float], tolerance_mm: float = 0.01) -> list[float]:
    """Distinct slice positions, sorted, merging values closer than `tolerance_mm`."""
    distinct: list[float] = []
    for value in sorted(positions):
        if not distinct or value - distinct[-1] > tolerance_mm:
            distinct.append(value)
    return distinct


def slice_spacing(distinct_positions: Sequence[float]) -> float | None:
    """Median gap between neighbouring slice positions (None for a single slice)."""
    if len(distinct_positions) < 2:
        return None
    return float(np.median(np.diff(np.asarray(distinct_positions))))
