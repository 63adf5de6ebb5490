"""DICOM JSON (PS3.18 F.2) of de-identified headers, and the pixel attributes of what the store serves."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

# Attributes that describe the encoded pixels; WADO-RS metadata must describe the served pixels instead.
PIXEL_DESCRIPTION_TAGS = (
    "00280002",  # SamplesPerPixel
    "00280004",  # PhotometricInterpretation
    "00280006",  # PlanarConfiguration
    "00280008",  # NumberOfFrames
    "00280010",  # Rows
    "00280011",  # Columns
    "00280100",  # BitsAllocated
    "00280101",  # BitsStored
    "00280102",  # HighBit
    "00280103",  # PixelRepresentation
    "00281101",  # palette descriptors (R, G, B)
    "00281102",
    "00281103",
    "00281201",  # palette data (R, G, B)
    "00281202",
    "00281203",
    "00282110",  # LossyImageCompression is kept by the header; nothing else to drop
)
PIXEL_DATA_TAGS = ("7FE00010", "7FE00008", "7FE00009")


def header_json(ds: Dataset) -> dict[str, Any]:
    """The header as a DICOM JSON object, without pixel data or other bulk binary values."""

    def drop_bulk(element: Any) -> str:
        return ""

    data = ds.to_json_dict(
        bulk_data_threshold=4096, bulk_data_element_handler=drop_bulk, suppress_invalid_tags=True
    )
    for tag in [*PIXEL_DATA_TAGS, *[t for t, v in data.items() if "BulkDataURI" in v]]:
        data.pop(tag, None)
    return data


def _value(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)}


def served_pixel_attributes(
    *, rows: int, columns: int, dtype: str, n_frames: int, color: bool, photometric: str = "MONOCHROME2"
) -> dict[str, Any]:
    """Pixel-description attributes of frames served as uncompressed little-endian bytes."""
    bits = 8 if dtype in ("uint8", "int8") else 16
    signed = dtype.startswith("int")
    attributes = {
        "00280002": _value("US", 3 if color else 1),
        "00280004": _value(
            "CS", "RGB" if color else (photometric if photometric.startswith("MONO") else "MONOCHROME2")
        ),
        "00280008": _value("IS", n_frames),
        "00280010": _value("US", rows),
        "00280011": _value("US", columns),
        "00280100": _value("US", bits),
        "00280101": _value("US", bits),
        "00280102": _value("US", bits - 1),
        "00280103": _value("US", 1 if signed else 0),
    }
    if color:
        attributes["00280006"] = _value("US", 0)
    return attributes


def with_served_pixels(header: dict[str, Any], pixel_attributes: dict[str, Any]) -> dict[str, Any]:
    """A copy of `header` whose pixel description matches the served frames."""
    out = {tag: value for tag, value in header.items() if tag not in PIXEL_DESCRIPTION_TAGS}
    out.update(pixel_attributes)
    return dict(sorted(out.items()))


def header_value(header: dict[str, Any], tag: str, default: Any = None) -> Any:
    """The first value of `tag` in a DICOM JSON object (PN as its Alphabetic form)."""
    element = header.get(tag) or {}
    values = element.get("Value") or []
    if not values:
        return default
    first = values[0]
    if isinstance(first, dict) and "Alphabetic" in first:
        return first["Alphabetic"]
    return first
