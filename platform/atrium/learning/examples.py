"""Training examples from the platform's data: observers' submitted annotations, or reference labels.

Reads only (selectors): pixel-store arrays and annotation versions in, NumPy arrays out, plus the exact
annotation version ids used, which the model registry keeps as the training-set snapshot.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atrium.annotations.models import Annotation, AnnotationVersion
from atrium.imaging.models import Series
from atrium.imaging.pixel_store import get_pixel_store
from atrium.studies.models import AssignmentStatus, Case, Split, Study

VALIDATION_FRACTION = 0.2


@dataclass
class Examples:
    """images: (N, H, W) float32 in [0, 1]; labels: (N, H, W) uint8 masks or (N,) int64 classes.
    items: (reader, slice, phase) of each cardiac example (reader 0 for reference labels), which the 3D
    segmenter groups into volumes (atrium.learning.volumes); empty where unknown."""

    images: np.ndarray
    labels: np.ndarray
    case_ids: list[int] = field(default_factory=list)
    annotation_versions: list[int] = field(default_factory=list)
    items: list[tuple[int, int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, mask: np.ndarray) -> Examples:
        """The examples where `mask` (N,) bool is set, with their case ids and items."""
        index = np.flatnonzero(mask)
        return Examples(
            self.images[index],
            self.labels[index],
            [self.case_ids[i] for i in index] if self.case_ids else [],
            items=[self.items[i] for i in index] if self.items else [],
        )


def windowed(frames: np.ndarray, series: Series) -> np.ndarray:
    """Frames scaled to [0, 1] with the series' window (the same scaling in training and inference)."""
    center = float(series.window_center if series.window_center is not None else np.mean(frames))
    width = float(series.window_width or max(float(np.ptp(frames)), 1.0))
    low = center - width / 2
    return np.clip((np.asarray(frames, dtype=np.float32) - low) / width, 0.0, 1.0)


def pad_to_multiple(images: np.ndarray, multiple: int = 16) -> tuple[np.ndarray, tuple[int, int]]:
    """Zero-pad (..., H, W) at the bottom/right to multiples of `multiple`; returns the original (H, W)."""
    height, width = images.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return images, (height, width)
    pads = [(0, 0)] * (images.ndim - 2) + [(0, pad_h), (0, pad_w)]
    return np.pad(images, pads), (height, width)


def assign_validation_split(study: Study) -> None:
    """Fix the study's validation split once: a deterministic ~20 % of cases by a hash of the case id."""
    cases = Case.objects.filter(study=study, split=Split.POOL)
    if Case.objects.filter(study=study, split=Split.VALIDATION).exists():
        return
    chosen = [
        c.pk for c in cases if zlib.crc32(f"{study.pk}:{c.pk}".encode()) % 100 < VALIDATION_FRACTION * 100
    ]
    Case.objects.filter(pk__in=chosen).update(split=Split.VALIDATION)


def submitted_cases(study: Study) -> Any:
    return Case.objects.filter(study=study, assignments__status=AssignmentStatus.SUBMITTED).distinct()


def _current_version_ids(annotations: list[Annotation]) -> list[int]:
    pairs = [(a.pk, a.version) for a in annotations]
    if not pairs:
        return []
    ids: list[int] = []
    for annotation_id, number in pairs:
        ids.extend(
            AnnotationVersion.objects.filter(annotation_id=annotation_id, number=number).values_list(
                "pk", flat=True
            )
        )
    return ids


def cardiac_examples_from_annotations(cases: Any) -> Examples:
    """Slices (per slice and phase) on which one observer drew the LV endocardium, epicardium and RV."""
    from ml.segmentation.contours import contours_to_label_map

    store = get_pixel_store()
    images, labels, case_ids, version_ids, items = [], [], [], [], []
    for case in cases.select_related("series"):
        series = case.series
        array = store.open(series.store_key)
        height, width = series.frame_shape
        annotations = list(
            Annotation.objects.filter(
                case=case, kind="contour", deleted=False, assignment__status=AssignmentStatus.SUBMITTED
            )
        )
        grouped: dict[tuple[int, int, int], dict[str, list[np.ndarray]]] = defaultdict(
            lambda: defaultdict(list)
        )
        used: dict[tuple[int, int, int], list[Annotation]] = defaultdict(list)
        for annotation in annotations:
            key = (annotation.author_id, annotation.data["slice"], annotation.data["phase"])
            grouped[key][annotation.data["structure"]].append(
                np.asarray(annotation.data["points"], dtype=np.float64)
            )
            used[key].append(annotation)
        for key, structures in grouped.items():
            if not {"lv_endo", "lv_epi"} <= set(structures):
                continue  # an incomplete slice would teach the model that missing structures are background
            _, slice_index, phase = key
            labels.append(contours_to_label_map(structures, (height, width)))
            images.append(windowed(array[slice_index, phase], series))
            case_ids.append(case.pk)
            items.append(key)
            version_ids.extend(_current_version_ids(used[key]))
    return _stack(images, labels, case_ids, version_ids, masks=True, items=items)


def plane_examples_from_annotations(cases: Any) -> Examples:
    """Frames inside an observer's plane-label ranges, with that plane as the class."""
    from ml.data.planes import PLANES

    store = get_pixel_store()
    images, labels, case_ids, version_ids = [], [], [], []
    for case in cases.select_related("series"):
        series = case.series
        array = store.open(series.store_key)
        annotations = Annotation.objects.filter(
            case=case, kind="plane_label", deleted=False, assignment__status=AssignmentStatus.SUBMITTED
        )
        for annotation in annotations:
            start, stop = annotation.data["frame_start"], annotation.data["frame_stop"]
            for frame in range(start, stop + 1):
                images.append(windowed(array[frame], series))
                labels.append(PLANES.index(annotation.data["plane"]))
                case_ids.append(case.pk)
            version_ids.extend(_current_version_ids([annotation]))
    return _stack(images, labels, case_ids, version_ids, masks=False)


def examples_from_reference(cases: Any, *, frames_per_case: int | None = None) -> Examples:
    """Examples from the reference label maps kept beside series (synthetic ground truth): the oracle of
    the active-learning simulation."""
    store = get_pixel_store()
    images, labels, case_ids, items = [], [], [], []
    for case in cases.select_related("series"):
        series = case.series
        if not series.label_store_key:
            continue
        n_phases = int(series.shape[1]) if series.layout == "cine" else 1
        array, truth = store.open(series.store_key), store.open(series.label_store_key)
        if series.layout == "cine":
            flat_images = np.asarray(array).reshape(-1, *series.frame_shape)
            flat_labels = np.asarray(truth).reshape(-1, *series.frame_shape)
        else:
            flat_images, flat_labels = np.asarray(array), np.asarray(truth)
        index = np.arange(flat_images.shape[0])
        if frames_per_case is not None and len(index) > frames_per_case:
            index = np.linspace(0, len(index) - 1, frames_per_case).round().astype(int)
        for i in index:
            images.append(windowed(flat_images[i], series))
            labels.append(flat_labels[i])
            case_ids.append(case.pk)
            items.append((0, int(i) // n_phases, int(i) % n_phases))
    masks = labels[0].ndim == 2 if labels else True
    return _stack(images, labels, case_ids, [], masks=masks, items=items if masks else [])


def _stack(
    images: list,
    labels: list,
    case_ids: list[int],
    version_ids: list[int],
    *,
    masks: bool,
    items: list[tuple[int, int, int]] | None = None,
) -> Examples:
    if not images:
        shape = (0, 16, 16)
        return Examples(
            np.zeros(shape, np.float32), np.zeros(shape if masks else (0,), np.uint8 if masks else np.int64)
        )
    stacked = np.stack(images).astype(np.float32)
    label_array = np.stack(labels).astype(np.uint8) if masks else np.asarray(labels, dtype=np.int64)
    return Examples(stacked, label_array, case_ids, sorted(set(version_ids)), items or [])
