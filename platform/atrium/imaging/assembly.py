"""Assemble decoded instances of one series into a single array.

Cardiac short-axis cine: (slice, phase, H, W), slices ordered by ImagePositionPatient · normal (from
ImageOrientationPatient), phases by TriggerTime. Ultrasound clips: (frame, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atrium.imaging.decode import DecodedInstance, header_float, header_floats
from atrium.imaging.errors import IngestError
from atrium.imaging.geometry import group_positions, position_along_normal, slice_normal, slice_spacing


@dataclass
class Placement:
    """Where one instance's frames landed in the assembled array."""

    sop_uid: str
    first_frame: int
    n_frames: int
    slice_index: int | None = None
    phase_index: int | None = None
    trigger_time_ms: float | None = None
    slice_location_mm: float | None = None


@dataclass
class AssembledSeries:
    array: np.ndarray
    layout: str
    color: np.ndarray | None
    pixel_spacing_mm: list[float]
    slice_thickness_mm: float | None
    slice_spacing_mm: float | None
    frame_time_ms: float | None
    placements: list[Placement] = field(default_factory=list)


def _check_frame_shapes(instances: list[DecodedInstance]) -> tuple[int, int]:
    shapes = {inst.frames.shape[1:] for inst in instances}
    if len(shapes) != 1:
        listed = ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
        raise IngestError(instances[0].source, f"series mixes frame sizes ({listed})")
    dtypes = {inst.frames.dtype for inst in instances}
    if len(dtypes) != 1:
        raise IngestError(instances[0].source, f"series mixes pixel types ({', '.join(map(str, dtypes))})")
    (shape,) = shapes
    return int(shape[0]), int(shape[1])


def _frame_time(ds: Any) -> float | None:
    frame_time = header_float(ds, "FrameTime")
    if frame_time:
        return frame_time
    rate = header_float(ds, "CineRate") or header_float(ds, "RecommendedDisplayFrameRate")
    return 1000.0 / rate if rate else None


def _is_cine_candidate(instances: list[DecodedInstance]) -> bool:
    first = instances[0].header
    if str(first.get("Modality", "")) == "US":
        return False
    if len(instances) == 1 and instances[0].per_frame:
        return all("position" in f and f.get("position") for f in instances[0].per_frame)
    return all(inst.frames.shape[0] == 1 for inst in instances) and all(
        header_floats(inst.header, "ImagePositionPatient")
        and header_floats(inst.header, "ImageOrientationPatient")
        for inst in instances
    )


def assemble(instances: list[DecodedInstance]) -> AssembledSeries:
    if not instances:
        raise ValueError("no instances to assemble")
    _check_frame_shapes(instances)
    if _is_cine_candidate(instances):
        return _assemble_cine(instances)
    return _assemble_clip(instances)


def _assemble_clip(instances: list[DecodedInstance]) -> AssembledSeries:
    ordered = sorted(
        instances, key=lambda inst: (int(inst.header.get("InstanceNumber", 0) or 0), inst.sop_uid)
    )
    arrays, colors, placements = [], [], []
    cursor = 0
    for inst in ordered:
        arrays.append(inst.frames)
        if inst.color is not None:
            colors.append(inst.color)
        placements.append(Placement(sop_uid=inst.sop_uid, first_frame=cursor, n_frames=inst.frames.shape[0]))
        cursor += inst.frames.shape[0]
    if colors and len(colors) != len(ordered):
        raise IngestError(ordered[0].source, "series mixes colour and grey instances")
    first = ordered[0].header
    spacing = header_floats(first, "PixelSpacing") or _ultrasound_spacing(first) or []
    return AssembledSeries(
        array=arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0),
        layout="clip",
        color=(colors[0] if len(colors) == 1 else np.concatenate(colors, axis=0)) if colors else None,
        pixel_spacing_mm=spacing,
        slice_thickness_mm=header_float(first, "SliceThickness"),
        slice_spacing_mm=None,
        frame_time_ms=_frame_time(first),
        placements=placements,
    )


def _ultrasound_spacing(ds: Any) -> list[float] | None:
    regions = ds.get("SequenceOfUltrasoundRegions")
    if not regions:
        return None
    region = regions[0]
    dx, dy = header_float(region, "PhysicalDeltaX"), header_float(region, "PhysicalDeltaY")
    # Ultrasound regions give cm per pixel when the units code is 3.
    if dx and dy and int(region.get("PhysicalUnitsXDirection", 0) or 0) == 3:
        return [abs(dy) * 10.0, abs(dx) * 10.0]
    return None


def cine_grid(
    locations: Sequence[float], triggers: Sequence[float], tiebreak: Sequence[Any]
) -> tuple[list[float], list[list[int]]]:
    """(distinct slice positions, entry indices per slice): slices ordered along the normal, each slice's
    entries ordered by trigger time, then by `tiebreak` (e.g. (SOP UID, frame index)) for equal times."""
    positions = group_positions(locations)
    grid: list[list[int]] = [[] for _ in positions]
    for index, location in enumerate(locations):
        grid[int(np.argmin([abs(location - p) for p in positions]))].append(index)
    return positions, [sorted(row, key=lambda i: (triggers[i], tiebreak[i])) for row in grid]


def _assemble_cine(instances: list[DecodedInstance]) -> AssembledSeries:
    # One entry per 2D frame: (position along normal, trigger time, instance, frame index in instance).
    entries: list[tuple[float, float, DecodedInstance, int]] = []
    first = instances[0].header
    if len(instances) == 1 and instances[0].per_frame:
        inst = instances[0]
        orientation = next((f["orientation"] for f in inst.per_frame if f.get("orientation")), None)
        orientation = orientation or header_floats(first, "ImageOrientationPatient")
        if not orientation:
            raise IngestError(inst.source, "multi-frame MR has positions but no ImageOrientationPatient")
        normal = slice_normal(orientation)
        for index, frame_info in enumerate(inst.per_frame):
            entries.append(
                (
                    position_along_normal(frame_info["position"], normal),
                    frame_info.get("trigger_time") or 0.0,
                    inst,
                    index,
                )
            )
    else:
        normal = slice_normal(header_floats(first, "ImageOrientationPatient") or [])
        for inst in instances:
            position = header_floats(inst.header, "ImagePositionPatient") or []
            trigger = header_float(inst.header, "TriggerTime")
            entries.append((position_along_normal(position, normal), trigger or 0.0, inst, 0))

    positions, grid = cine_grid(
        [e[0] for e in entries], [e[1] for e in entries], [(e[2].sop_uid, e[3]) for e in entries]
    )
    phase_counts = {len(row) for row in grid}
    if len(phase_counts) != 1:
        counts = ", ".join(str(len(row)) for row in grid)
        raise IngestError(instances[0].source, f"cine slices have unequal numbers of phases ({counts})")
    n_phases = phase_counts.pop()
    height, width = instances[0].frames.shape[1:]
    array = np.empty((len(positions), n_phases, height, width), dtype=instances[0].frames.dtype)
    placements: list[Placement] = []
    for slice_index, row in enumerate(grid):
        for phase_index, entry_index in enumerate(row):
            location, trigger, inst, frame_in_inst = entries[entry_index]
            array[slice_index, phase_index] = inst.frames[frame_in_inst]
            if len(instances) > 1:
                placements.append(
                    Placement(
                        sop_uid=inst.sop_uid,
                        first_frame=slice_index * n_phases + phase_index,
                        n_frames=1,
                        slice_index=slice_index,
                        phase_index=phase_index,
                        trigger_time_ms=trigger,
                        slice_location_mm=location,
                    )
                )
    if len(instances) == 1:
        placements.append(
            Placement(sop_uid=instances[0].sop_uid, first_frame=0, n_frames=array.shape[0] * n_phases)
        )
    frame_info = instances[0].per_frame[0] if instances[0].per_frame else {}
    spacing = header_floats(first, "PixelSpacing") or frame_info.get("pixel_spacing") or []
    thickness = header_float(first, "SliceThickness") or frame_info.get("slice_thickness")
    rr = None
    triggers = sorted({e[1] for e in entries})
    if len(triggers) > 1:
        rr = float(np.median(np.diff(triggers)))
    return AssembledSeries(
        array=array,
        layout="cine",
        color=None,
        pixel_spacing_mm=spacing,
        slice_thickness_mm=thickness,
        slice_spacing_mm=slice_spacing(positions) or header_float(first, "SpacingBetweenSlices"),
        frame_time_ms=rr,
        placements=placements,
    )
