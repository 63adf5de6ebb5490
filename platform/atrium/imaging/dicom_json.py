"""DICOM JSON (PS3.18 F.2) of de-identified headers, and the pixel attributes of what the store serves."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement, RawDataElement
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


# Raw (still encoded) values that header_json decodes itself; anything else goes through pydicom.
_STRUCT_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}
_SPLIT_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "DS", "IS"})
_SPLIT_TEXT_VRS = frozenset({"SH", "LO", "UC"})
_SINGLE_TEXT_VRS = frozenset({"ST", "LT", "UT"})
# SpecificCharacterSet values whose text decodes with a single Python codec (ISO_IR 6 is ASCII).
_SIMPLE_CHARSETS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}


def _raw_json(raw: RawDataElement, codec: str | None) -> dict[str, Any] | None:
    """DICOM JSON of a raw element decoded directly (as pydicom would), or None to let pydicom do it.

    pydicom's own conversion costs more than the pixel decoding on ingest; this covers the common VRs of
    explicit little-endian files and hands everything unusual (PN, AT, SQ, other charsets) back.
    """
    vr, data = raw.VR, raw.value
    if vr is None or not isinstance(data, bytes):
        return None
    if not data:
        return {"vr": vr}
    fmt = _STRUCT_FORMATS.get(vr)
    if fmt is not None:
        size = struct.calcsize(fmt)
        if not raw.is_little_endian or len(data) % size:
            return None
        values: list[Any] = list(struct.unpack(f"<{len(data) // size}{fmt}", data))
        return {"vr": vr, "Value": values if fmt in "fd" else [int(v) for v in values]}
    if vr in _SPLIT_ASCII_VRS:
        items = data.decode("latin-1").rstrip(" \x00").split("\\")
        if items == [""]:
            return {"vr": vr}
        if vr == "DS":
            return {"vr": vr, "Value": [float(item) for item in items]}
        if vr == "IS":
            return {"vr": vr, "Value": [int(item) for item in items]}
        return {"vr": vr, "Value": items}
    if codec is None:
        return None
    if vr in _SPLIT_TEXT_VRS:
        items = [item.rstrip("\x00 ") for item in data.decode(codec).split("\\")]
    elif vr in _SINGLE_TEXT_VRS:
        items = [data.decode(codec).rstrip("\x00 ")]
    else:
        return None
    return {"vr": vr} if items == [""] else {"vr": vr, "Value": items}


def _element_json(element: DataElement) -> dict[str, Any] | None:
    vr, value = str(element.VR), element.value
    if value is None or value == "" or (isinstance(value, (list, MultiValue)) and len(value) == 0):
        return {"vr": vr}
    try:
        return {"vr": vr, "Value": _json_values(vr, value)}
    except (TypeError, ValueError):
        return None  # an invalid value in the source header is left out of the metadata


_KEYS: dict[int, str] = {}  # a tag's DICOM JSON key ("0020000D"), written once per tag


def header_json(
    ds: Dataset, codec: str | None = "", memo: dict[tuple[Any, ...], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The header as a DICOM JSON object, without pixel data or other binary values.

    Written by hand rather than with Dataset.to_json_dict, which costs more than decoding the pixels;
    common raw values are decoded here directly (the result equals pydicom's conversion, see the tests).
    `codec` is the text codec inherited by a sequence item ("" = read SpecificCharacterSet here).
    `memo`, shared between the headers of one series, keeps each raw element's JSON by its tag, VR,
    codec, byte order and bytes: most elements repeat in every instance of a series, so each is decoded
    once. The memoised dicts are shared between the results, which must therefore not be mutated.
    """
    if codec == "" or "SpecificCharacterSet" in ds:
        charset = ds.get("SpecificCharacterSet") or ""
        names = [charset] if isinstance(charset, str) else [str(name) for name in charset]
        codec = _SIMPLE_CHARSETS.get(names[0].strip()) if len(names) == 1 else None
    out: dict[str, Any] = {}
    # Dataset.items() gives the elements as stored (raw ones unconverted); sorting (int, tag, element)
    # triples compares plain ints, where sorting tags would call their Python-level comparison.
    for number, tag, element in sorted((int(tag), tag, element) for tag, element in ds.items()):
        if number >> 16 == 0x7FE0:
            continue
        key = _KEYS.get(number) or _KEYS.setdefault(number, f"{number:08X}")
        if isinstance(element, RawDataElement) and element.VR not in (None, "SQ", "UN"):
            if element.VR in BINARY_VRS:
                continue  # (UN is converted below: pydicom replaces it with the dictionary's VR)
            memo_key = (key, element.VR, codec, element.is_little_endian, element.value)
            fast = memo.get(memo_key) if memo is not None else None
            if fast is None:
                try:
                    fast = _raw_json(element, codec)
                except (UnicodeDecodeError, ValueError, struct.error):
                    fast = None
                if fast is not None and memo is not None:
                    memo[memo_key] = fast
            if fast is not None:
                out[key] = fast
                continue
        element = ds[tag]
        vr = str(element.VR)
        if vr in BINARY_VRS:
            continue
        if vr == "SQ":
            out[key] = {"vr": vr, "Value": [header_json(item, codec, memo) for item in element.value]}
            continue
        converted = _element_json(element)
        if converted is not None:
            out[key] = converted
    return out


def _value(vr: str, *values: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": list(values)}


def served_pixel_attributes(
    *, rows: int, columns: int, dtype: str, n_frames: int, color: bool, photometric: str = "MONOCHROME2"
) -> dict[str, Any]:
    """Pixel-description attributes of frames served as uncompressed little-endian bytes."""
    bits = 8 * np.dtype(dtype).itemsize
    signed = np.dtype(dtype).kind == "i"
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
