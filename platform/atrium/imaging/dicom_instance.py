"""Stored instances as DICOM again: served metadata, frame order, and a rebuilt Part 10 file for WADO-RS.

Ingest keeps the de-identified header (DICOM JSON) and the decoded pixels, never a de-identified file (a
kept original is the identified file, so it is never served). WADO-RS retrieve therefore rebuilds each
instance: the stored header, pixel attributes describing the stored frames, and those frames as
uncompressed Explicit VR Little Endian pixel data.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from atrium.imaging.assembly import cine_grid
from atrium.imaging.decode import per_frame_geometry
from atrium.imaging.dicom_json import header_value, served_pixel_attributes, with_served_pixels
from atrium.imaging.frames import frame_stack
from atrium.imaging.geometry import position_along_normal, slice_normal
from atrium.imaging.models import Instance, Layout

logger = logging.getLogger(__name__)


def served_metadata(instance: Instance) -> dict[str, Any]:
    """The instance's de-identified header with pixel attributes describing the frames the store serves."""
    series = instance.series
    height, width = series.frame_shape
    color = bool(series.color_store_key)
    pixels = served_pixel_attributes(
        rows=height,
        columns=width,
        dtype="uint8" if color else series.dtype,
        n_frames=instance.n_frames,
        color=color,
        photometric=str(header_value(instance.dicom_json, "00280004", "MONOCHROME2")),
    )
    return with_served_pixels(instance.dicom_json, pixels)


def _dataset(header: dict[str, Any]) -> Dataset:
    """Dataset.from_json, leaving out (and logging) single elements whose stored value pydicom refuses."""
    try:
        return Dataset.from_json(header)
    except Exception:  # pydicom raises many types for odd values
        ds = Dataset()
        for tag, element in header.items():
            try:
                ds.add(DataElement.from_json(Dataset, tag, element["vr"], element.get("Value"), "Value"))
            except Exception as exc:
                logger.warning("left out element %s from a rebuilt instance: %s", tag, exc)
        return ds


def instance_frame_indices(instance: Instance) -> list[int]:
    """Series frame index of each of the instance's frames, in the instance's own frame order.

    Usually first_frame, first_frame + 1, ...; but an enhanced multi-frame cine was re-ordered into
    (slice, phase) on assembly, so its order is recomputed from its per-frame functional groups.
    """
    contiguous = list(range(instance.first_frame, instance.first_frame + instance.n_frames))
    series = instance.series
    if series.layout != Layout.CINE or instance.n_frames < 2 or "52009230" not in instance.dicom_json:
        return contiguous
    header = _dataset(
        {
            tag: instance.dicom_json[tag]
            for tag in ("52009229", "52009230", "00200037")
            if tag in instance.dicom_json
        }
    )
    per_frame = per_frame_geometry(header, instance.n_frames)
    orientation = next((f["orientation"] for f in per_frame if f.get("orientation")), None)
    orientation = orientation or [float(v) for v in header.get("ImageOrientationPatient") or []]
    try:
        normal = slice_normal(orientation)
        locations = [position_along_normal(f.get("position") or [], normal) for f in per_frame]
    except ValueError:
        return contiguous
    triggers = [f.get("trigger_time") or 0.0 for f in per_frame]
    _, grid = cine_grid(locations, triggers, [(instance.sop_instance_uid, i) for i in range(len(per_frame))])
    n_phases = int(series.shape[1])
    order = [0] * instance.n_frames
    for slice_index, row in enumerate(grid):
        for phase_index, frame in enumerate(row):
            order[frame] = instance.first_frame + slice_index * n_phases + phase_index
    return order


def instance_frames(instance: Instance) -> np.ndarray:
    """The instance's frames as served: (F, H, W) grey, or (F, H, W, 3) RGB for a colour series."""
    series = instance.series
    stack = frame_stack(series, color=bool(series.color_store_key))
    indices = instance_frame_indices(instance)
    if indices == list(range(indices[0], indices[0] + len(indices))):
        return stack[indices[0] : indices[0] + len(indices)]
    return stack[indices]


def _pixel_element(frames: np.ndarray) -> tuple[int, str, bytes]:
    data = np.ascontiguousarray(frames, dtype=frames.dtype.newbyteorder("<")).tobytes()
    if len(data) % 2:
        data += b"\0"
    if frames.dtype.kind == "f":
        return (0x7FE00008, "OF", data) if frames.dtype.itemsize == 4 else (0x7FE00009, "OD", data)
    return 0x7FE00010, ("OB" if frames.dtype.itemsize == 1 else "OW"), data


def rebuild_instance(instance: Instance) -> bytes:
    """A DICOM Part 10 file (Explicit VR Little Endian) of the de-identified instance and its stored frames."""
    frames = instance_frames(instance)
    ds = _dataset(served_metadata(instance))
    tag, vr, data = _pixel_element(frames)
    if frames.dtype.kind == "f":
        for keyword in ("BitsStored", "HighBit", "PixelRepresentation"):
            if keyword in ds:
                delattr(ds, keyword)
    ds.add(DataElement(tag, vr, data))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(instance.sop_class_uid or str(ds.get("SOPClassUID", "")))
    meta.MediaStorageSOPInstanceUID = UID(instance.sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "ATRIUM"
    ds.file_meta = meta
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
