"""DICOM JSON (PS3.18 F.2) of de-identified headers, and the pixel attributes of what the store serves."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

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


BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
INT_VRS = frozenset({"IS", "SL", "SS", "SV", "UL", "US", "UV"})
FLOAT_VRS = frozenset({"DS", "FD", "FL"})


def _json_values(vr: str, value: Any) -> list[Any]:
    values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    if vr == "PN":
        return [{"Alphabetic": str(v)} for v in values]
    if vr in INT_VRS:
        return [int(v) for v in values]
    if vr in FLOAT_VRS:
        return [float(v) for v in values]
    if vr == "AT":
        return [f"{int(v):08X}" for v in values]
    return [str(v) for v in values]


def header_json(ds: Dataset) -> dict[str, Any]:
    """The header as a DICOM JSON object, without pixel data or other binary values.

    Written by hand rather than with Dataset.to_json_dict, which costs more than decoding the pixels.
    """
    out: dict[str, Any] = {}
    for element in ds:
        vr = str(element.VR)
        if vr in BINARY_VRS or element.tag.group == 0x7FE0:
            continue
        key = f"{int(element.tag):08X}"
        value = element.value
        if vr == "SQ":
            out[key] = {"vr": vr, "Value": [header_json(item) for item in value]}
        elif value is None or value == "" or (isinstance(value, (list, MultiValue)) and len(value) == 0):
            out[key] = {"vr": vr}
        else:
            try:
                out[key] = {"vr": vr, "Value": _json_values(vr, value)}
            except (TypeError, ValueError):
                continue  # an invalid value in the source header is left out of the metadata
    return out


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
