"""Check annotation payloads against the case they belong to. Pure: returns cleaned data or raises."""

from __future__ import annotations

import math
from typing import Any

from ml.data.planes import PLANES

CARDIAC_STRUCTURES = ("lv_endo", "lv_epi", "rv_endo")
MAX_CONTOUR_POINTS = 4000
CONTOUR_MODES = ("spline", "freehand")


class AnnotationDataError(ValueError):
    pass


def _int_in(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnnotationDataError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise AnnotationDataError(f"{name}={value} is outside 0..{high}")
    return value


def _points(raw: Any, height: int, width: int) -> list[list[float]]:
    if not isinstance(raw, list):
        raise AnnotationDataError("points must be a list of [x, y] pairs")
    if len(raw) < 3:
        raise AnnotationDataError(f"a closed contour needs at least 3 points, got {len(raw)}")
    if len(raw) > MAX_CONTOUR_POINTS:
        raise AnnotationDataError(f"a contour may have at most {MAX_CONTOUR_POINTS} points, got {len(raw)}")
    margin = 1.0
    cleaned = []
    for index, point in enumerate(raw):
        if not (isinstance(point, list | tuple) and len(point) == 2):
            raise AnnotationDataError(f"points[{index}] must be an [x, y] pair")
        x, y = point
        if any(isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) for v in (x, y)):
            raise AnnotationDataError(f"points[{index}] must hold two finite numbers")
        if not (-margin <= x <= width - 1 + margin and -margin <= y <= height - 1 + margin):
            raise AnnotationDataError(f"points[{index}]=({x}, {y}) lies outside the {width}x{height} image")
        cleaned.append([round(float(x), 3), round(float(y), 3)])
    return cleaned


def clean_annotation_data(kind: str, data: Any, *, layout: str, shape: list[int]) -> dict[str, Any]:
    """Validate `data` for an annotation of `kind` on a series of `layout`/`shape`."""
    if not isinstance(data, dict):
        raise AnnotationDataError("data must be a JSON object")
    height, width = int(shape[-2]), int(shape[-1])
    if kind == "contour":
        if layout != "cine":
            raise AnnotationDataError("contours can only be drawn on a cardiac cine series")
        structure = data.get("structure")
        if structure not in CARDIAC_STRUCTURES:
            raise AnnotationDataError(
                f"structure must be one of {', '.join(CARDIAC_STRUCTURES)}, got {structure!r}"
            )
        mode = data.get("mode", "freehand")
        if mode not in CONTOUR_MODES:
            raise AnnotationDataError(f"mode must be one of {', '.join(CONTOUR_MODES)}, got {mode!r}")
        return {
            "structure": structure,
            "slice": _int_in(data.get("slice"), "slice", 0, int(shape[0]) - 1),
            "phase": _int_in(data.get("phase"), "phase", 0, int(shape[1]) - 1),
            "points": _points(data.get("points"), height, width),
            "mode": mode,
        }
    if kind == "plane_label":
        if layout != "clip":
            raise AnnotationDataError("plane labels can only be put on an ultrasound clip")
        plane = data.get("plane")
        if plane not in PLANES:
            raise AnnotationDataError(
                f"plane must be one of the 14 classes ({', '.join(PLANES)}), got {plane!r}"
            )
        n_frames = int(shape[0])
        start = _int_in(data.get("frame_start"), "frame_start", 0, n_frames - 1)
        stop = _int_in(data.get("frame_stop"), "frame_stop", 0, n_frames - 1)
        if stop < start:
            raise AnnotationDataError(f"frame_stop ({stop}) is before frame_start ({start})")
        return {"plane": plane, "frame_start": start, "frame_stop": stop}
    if kind == "phases":
        if layout != "cine":
            raise AnnotationDataError("ED/ES phases apply to a cardiac cine series only")
        n_phases = int(shape[1])
        cleaned: dict[str, Any] = {}
        for key in ("ed_phase", "es_phase"):
            value = data.get(key)
            cleaned[key] = None if value is None else _int_in(value, key, 0, n_phases - 1)
        return cleaned
    raise AnnotationDataError(f"unknown annotation kind {kind!r}; expected contour, plane_label or phases")
