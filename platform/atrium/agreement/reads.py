"""A reader's read of one case turned into label maps at its ED and ES phases. Pure: no Django here.

A reader is an observer's read (user + read number; read 2 onwards are repeated reads) or one model
version's predictions. Geometry and rasterisation come from ml.segmentation; this module only decides
which contours to rasterise, which phases are ED/ES, and what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ml.segmentation.contours import contours_to_label_map, polygons_to_mask
from ml.segmentation.measures import volume_curve

STRUCTURES: tuple[str, ...] = ("lv_endo", "lv_epi", "rv_endo")
LABELS: dict[str, int] = {"LV": 1, "Myo": 2, "RV": 3}
LABEL_ORDER: dict[int, str] = {0: "background", 1: "LV blood pool", 2: "LV myocardium", 3: "RV blood pool"}
PhaseSource = Literal["annotation", "case", "volume_curve", "none"]


@dataclass(frozen=True)
class Reader:
    """Who read: `key` is stable across reports ("obs:ann#1", "model:segmentation#3")."""

    key: str
    label: str
    kind: Literal["observer", "model"]
    user: str = ""
    read_number: int = 1
    model_number: int | None = None
    model_version_id: int | None = None
    round: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CaseRead:
    """Everything one reader said about one cardiac case.

    contours: annotation data dicts {structure, slice, phase, points}; label_map_key: a model's (S, P, H, W)
    uint8 label map in the pixel store instead of contours; phases: the reader's own (ed, es), either may
    be None; signature: ids of the annotation versions / predictions involved (the cache key).
    """

    reader: Reader
    contours: list[dict[str, Any]] = field(default_factory=list)
    label_map_key: str = ""
    phases: tuple[int | None, int | None] = (None, None)
    signature: str = ""


@dataclass
class ReaderMasks:
    """Label maps (S, H, W) uint8 at the reader's ED and ES, and what was missing."""

    ed_phase: int | None
    es_phase: int | None
    phase_source: PhaseSource
    ed: np.ndarray
    es: np.ndarray
    missing: dict[str, list[str]]  # "ED"/"ES" -> structures with no pixel on any slice
    empty_contours: int  # contours that rasterise to nothing (degenerate or outside the image)
    slices: dict[str, dict[str, int]]  # "ED"/"ES" -> structure -> slices drawn


def _group(contours: Sequence[dict[str, Any]]) -> dict[tuple[int, int], dict[str, list[np.ndarray]]]:
    grouped: dict[tuple[int, int], dict[str, list[np.ndarray]]] = {}
    for c in contours:
        if c.get("structure") not in STRUCTURES:
            continue
        points = np.asarray(c.get("points") or [], dtype=np.float64)
        key = (int(c["slice"]), int(c["phase"]))
        grouped.setdefault(key, {}).setdefault(c["structure"], []).append(points)
    return grouped


def _valid(points: np.ndarray) -> bool:
    return points.ndim == 2 and points.shape[0] >= 3 and points.shape[1] == 2


def _phase_from_curve(
    grouped: dict[tuple[int, int], dict[str, list[np.ndarray]]], shape: Sequence[int]
) -> tuple[int | None, int | None]:
    """ED/ES as the largest/smallest LV blood-pool volume among the phases this reader contoured."""
    n_slices, _n_phases, h, w = (int(v) for v in shape)
    drawn = sorted({p for (_, p), structs in grouped.items() if structs.get("lv_endo")})
    if not drawn:
        return None, None
    labels = np.zeros((n_slices, len(drawn), h, w), dtype=np.uint8)
    for j, p in enumerate(drawn):
        for s in range(n_slices):
            polys = [q for q in grouped.get((s, p), {}).get("lv_endo", []) if _valid(q)]
            if polys:
                labels[s, j][polygons_to_mask(polys, (h, w), "nonzero")] = 1
    curve = volume_curve(labels, 1, (1.0, 1.0), 1.0)
    return drawn[int(np.argmax(curve))], drawn[int(np.argmin(curve))]


def _resolve_phases(
    own: tuple[int | None, int | None],
    case_phases: tuple[int | None, int | None],
    curve: Callable[[], tuple[int | None, int | None]],
) -> tuple[int | None, int | None, PhaseSource]:
    ed, es = own
    source: PhaseSource = "annotation"
    if ed is None or es is None:
        ced, ces = case_phases
        ed, es = (ed if ed is not None else ced), (es if es is not None else ces)
        source = "case" if own == (None, None) else "annotation"
    if ed is None or es is None:
        ved, ves = curve()
        ed, es = (ed if ed is not None else ved), (es if es is not None else ves)
        source = "volume_curve"
    if ed is None or es is None:
        source = "none"
    return ed, es, source


def _summarise(
    ed_map: np.ndarray, es_map: np.ndarray
) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    missing: dict[str, list[str]] = {}
    slices: dict[str, dict[str, int]] = {}
    for name, lab in (("ED", ed_map), ("ES", es_map)):
        per_slice = {k: (lab == v).any(axis=(1, 2)) for k, v in LABELS.items()}
        slices[name] = {k: int(v.sum()) for k, v in per_slice.items()}
        missing[name] = [k for k, v in per_slice.items() if not v.any()]
    return missing, slices


def masks_from_contours(
    read: CaseRead, shape: Sequence[int], case_phases: tuple[int | None, int | None]
) -> ReaderMasks:
    """Rasterise a contour read at its ED and ES. shape: the cine's (S, P, H, W)."""
    n_slices, _, h, w = (int(v) for v in shape)
    grouped = _group(read.contours)
    empty = sum(1 for c in read.contours if not _valid(np.asarray(c.get("points") or [], dtype=np.float64)))
    ed, es, source = _resolve_phases(read.phases, case_phases, lambda: _phase_from_curve(grouped, shape))

    def at(phase: int | None) -> np.ndarray:
        nonlocal empty
        out = np.zeros((n_slices, h, w), dtype=np.uint8)
        if phase is None:
            return out
        for s in range(n_slices):
            structs = grouped.get((s, phase))
            if not structs:
                continue
            valid = {k: [q for q in v if _valid(q)] for k, v in structs.items()}
            for polys in valid.values():
                for q in polys:
                    if not polygons_to_mask([q], (h, w), "nonzero").any():
                        empty += 1
            out[s] = contours_to_label_map(valid, (h, w))
        return out

    ed_map, es_map = at(ed), at(es)
    missing, slices = _summarise(ed_map, es_map)
    return ReaderMasks(ed, es, source, ed_map, es_map, missing, empty, slices)


def masks_from_label_map(
    read: CaseRead, labels: np.ndarray, case_phases: tuple[int | None, int | None]
) -> ReaderMasks:
    """A model's (S, P, H, W) label map at its ED and ES (own phases, else the case's, else the LV curve)."""
    lab = np.asarray(labels, dtype=np.uint8)

    def curve() -> tuple[int | None, int | None]:
        lv = volume_curve(lab, 1, (1.0, 1.0), 1.0)
        if not lv.any():
            return None, None
        return int(np.argmax(lv)), int(np.argmin(lv))

    ed, es, source = _resolve_phases(read.phases, case_phases, curve)
    blank = np.zeros((lab.shape[0], lab.shape[2], lab.shape[3]), dtype=np.uint8)
    ed_map = lab[:, ed] if ed is not None else blank
    es_map = lab[:, es] if es is not None else blank
    missing, slices = _summarise(ed_map, es_map)
    return ReaderMasks(
        ed, es, source, np.ascontiguousarray(ed_map), np.ascontiguousarray(es_map), missing, 0, slices
    )


def full_label_map(read: CaseRead, shape: Sequence[int]) -> np.ndarray:
    """All phases of a contour read as (S, P, H, W) uint8 (0 bg, 1 LV, 2 Myo, 3 RV), for exports."""
    n_slices, n_phases, h, w = (int(v) for v in shape)
    out = np.zeros((n_slices, n_phases, h, w), dtype=np.uint8)
    for (s, p), structs in _group(read.contours).items():
        if 0 <= s < n_slices and 0 <= p < n_phases:
            out[s, p] = contours_to_label_map(
                {k: [q for q in v if _valid(q)] for k, v in structs.items()}, (h, w)
            )
    return out
