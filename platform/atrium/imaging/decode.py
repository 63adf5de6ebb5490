"""Decode one DICOM file into frames plus the header fields series assembly needs."""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut

from atrium.imaging.errors import IngestError
from atrium.imaging.native_pixels import native_grey_pixels
from atrium.imaging.raw_values import decimal_texts, integer, tag_of, text_value, uid_text

_SERIES_INSTANCE_UID = tag_of("SeriesInstanceUID")
_SOP_INSTANCE_UID = tag_of("SOPInstanceUID")
_PHOTOMETRIC_INTERPRETATION = tag_of("PhotometricInterpretation")


@dataclass
class DecodedInstance:
    """One instance. frames: (F, H, W) grey; color: (F, H, W, 3) uint8 original when it was RGB/YBR."""

    source: str
    header: Dataset
    frames: np.ndarray
    color: np.ndarray | None = None
    per_frame: list[dict[str, Any]] = field(default_factory=list)
    original: Any = None  # the SourceFile, kept only while a study that keeps originals ingests it

    @property
    def series_uid(self) -> str:
        return uid_text(self.header, _SERIES_INSTANCE_UID)

    @property
    def sop_uid(self) -> str:
        return uid_text(self.header, _SOP_INSTANCE_UID)


def _float_list(value: Any) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _grey_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an (..., 3) uint8 array, as uint8."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(rgb.astype(np.float32) @ weights + 0.5, 0, 255).astype(np.uint8)


def per_frame_geometry(ds: Dataset, n_frames: int) -> list[dict[str, Any]]:
    """Position, orientation and trigger time of each frame of an enhanced multi-frame object."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame_seq = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame_seq is None or len(per_frame_seq) != n_frames:
        return []
    shared_item = shared[0] if shared else Dataset()
    out: list[dict[str, Any]] = []
    for item in per_frame_seq:
        entry: dict[str, Any] = {}
        for source in (shared_item, item):
            if "PlanePositionSequence" in source:
                entry["position"] = _float_list(source.PlanePositionSequence[0].get("ImagePositionPatient"))
            if "PlaneOrientationSequence" in source:
                entry["orientation"] = _float_list(
                    source.PlaneOrientationSequence[0].get("ImageOrientationPatient")
                )
            if "CardiacSynchronizationSequence" in source:
                sync = source.CardiacSynchronizationSequence[0]
                entry["trigger_time"] = _float(sync.get("NominalCardiacTriggerDelayTime"))
            if "PixelMeasuresSequence" in source:
                measures = source.PixelMeasuresSequence[0]
                entry["pixel_spacing"] = _float_list(measures.get("PixelSpacing"))
                entry["slice_thickness"] = _float(measures.get("SliceThickness"))
        out.append(entry)
    return out


def _describe_decode_failure(label: str, exc: BaseException) -> IngestError:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[:3]) if lines else type(exc).__name__
    lowered = text.lower()
    if any(word in lowered for word in ("missing", "length", "truncat", "less than expected", "too short")):
        return IngestError(label, f"is truncated: the pixel data is shorter than its header says ({text})")
    return IngestError(label, f"pixel data cannot be decoded ({text})")


def _as_rgb_uint8(ds: Dataset, pixels: np.ndarray, n_frames: int, label: str) -> np.ndarray:
    """(F, H, W, 3) uint8 from RGB, YBR (pydicom converts it by default) or PALETTE COLOR pixels."""
    photometric = str(ds.get("PhotometricInterpretation", "RGB"))
    if photometric == "PALETTE COLOR":
        try:
            rgb = apply_color_lut(pixels, ds)
        except (ValueError, KeyError, AttributeError) as exc:
            raise IngestError(label, f"has a palette that cannot be applied ({exc})") from None
        if rgb.dtype != np.uint8:
            # 16-bit palette entries: keep the high byte.
            rgb = (rgb.astype(np.uint32) >> 8).astype(np.uint8)
    else:
        rgb = pixels
        if rgb.dtype != np.uint8:
            raise IngestError(label, f"colour pixels of type {rgb.dtype} are not supported (8-bit RGB only)")
    rgb = rgb if n_frames > 1 else rgb[np.newaxis]
    return np.ascontiguousarray(rgb)


def read_instance(source: str | Path | BinaryIO, name: str | None = None) -> DecodedInstance:
    """Read and decode one file. Raises IngestError naming the file and the problem.

    frames are native little-endian; colour (RGB, YBR, palette) is kept as RGB uint8 beside a grey luma.
    """
    label = name or str(source)
    try:
        ds = pydicom.dcmread(source)
    except InvalidDicomError:
        raise IngestError(
            label, "is not a DICOM file (no DICM preamble and no recognisable header)"
        ) from None
    except (EOFError, OSError, ValueError, TypeError, KeyError, AttributeError, struct.error) as exc:
        raise IngestError(label, f"cannot be parsed as DICOM ({type(exc).__name__}: {exc})") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        if "Rows" in ds and "Columns" in ds:
            raise IngestError(label, "has no pixel data although its header describes an image (truncated?)")
        raise IngestError(label, "has no pixel data")
    for keyword, tag in (("SeriesInstanceUID", _SERIES_INSTANCE_UID), ("SOPInstanceUID", _SOP_INSTANCE_UID)):
        if not uid_text(ds, tag):
            raise IngestError(label, f"lacks {keyword}")
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    try:
        pixels = native_grey_pixels(ds)
        if pixels is None:
            pixels = ds.pixel_array
    except NotImplementedError:
        raise IngestError(
            label, f"uses transfer syntax {syntax} ({getattr(syntax, 'name', '?')}), which cannot be decoded"
        ) from None
    except (ValueError, RuntimeError, AttributeError, EOFError, TypeError, KeyError) as exc:
        raise _describe_decode_failure(label, exc) from None

    n_frames = integer(ds, "NumberOfFrames", 1) or 1
    samples = integer(ds, "SamplesPerPixel", 1) or 1
    photometric = text_value(ds, _PHOTOMETRIC_INTERPRETATION)
    color: np.ndarray | None = None
    if samples == 3 or photometric == "PALETTE COLOR":
        color = _as_rgb_uint8(ds, pixels, n_frames, label)
        frames = _grey_from_rgb(color)
    elif samples == 1:
        frames = pixels if n_frames > 1 else pixels[np.newaxis]
    else:
        raise IngestError(
            label, f"has {samples} samples per pixel; only grey (1) and colour (3) are supported"
        )
    if frames.ndim != 3:
        raise IngestError(
            label, f"decodes to an array of shape {pixels.shape}, which is not a set of 2D frames"
        )
    if frames.dtype.byteorder == ">" or (frames.dtype.byteorder == "=" and sys.byteorder == "big"):
        frames = frames.astype(frames.dtype.newbyteorder("<"))

    per_frame = per_frame_geometry(ds, n_frames) if n_frames > 1 else []
    for keyword in ("PixelData", "FloatPixelData"):
        if keyword in ds:
            delattr(ds, keyword)
    return DecodedInstance(
        source=label, header=ds, frames=np.ascontiguousarray(frames), color=color, per_frame=per_frame
    )


def header_float(ds: Dataset, keyword: str) -> float | None:
    """A single number (None when absent, empty, multi-valued or not a number)."""
    texts = decimal_texts(ds, tag_of(keyword))
    if not texts:  # None or empty: pydicom reads it (an empty one as it reads it)
        return _float(ds.get(keyword))
    return _float(texts[0]) if len(texts) == 1 else None


def header_floats(ds: Dataset, keyword: str) -> list[float] | None:
    """A multi-valued number's values (None when absent, single-valued or not numbers)."""
    texts = decimal_texts(ds, tag_of(keyword))
    if texts is None or len(texts) < 2:  # a single value is not a list to pydicom either
        return _float_list(ds.get(keyword))
    try:
        return [float(text) for text in texts]
    except ValueError:
        return None
