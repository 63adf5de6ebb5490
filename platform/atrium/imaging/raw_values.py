"""Values read straight from a header's raw (still encoded) elements, as pydicom would convert them.

pydicom converts an element on first access and builds value objects (DSfloat, MultiValue, UID) that cost
more per file than the rest of ingest's reading; ingest reads a few numbers and UIDs from every file, so
these read the text of an unconverted element directly and leave anything else to pydicom (None).
"""

from __future__ import annotations

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

_DECIMAL_VRS = ("DS", "IS")
_TAGS: dict[str, BaseTag] = {}


def tag_of(keyword: str) -> BaseTag:
    """The tag of a dictionary keyword, looked up once."""
    tag = _TAGS.get(keyword)
    if tag is None:
        number = tag_for_keyword(keyword)
        if number is None:
            raise KeyError(f"{keyword!r} is not a DICOM keyword")
        tag = _TAGS[keyword] = BaseTag(number)
    return tag


def uid_text(ds: Dataset, tag: BaseTag) -> str:
    """A UID's text ("" when absent or empty), decoded from the file's bytes when not yet converted."""
    element = ds.get_item(tag)
    if element is None:
        return ""
    if isinstance(element, RawDataElement) and isinstance(element.value, bytes):
        return element.value.decode("latin-1").rstrip("\x00 ")
    value = ds[tag].value
    return str(value) if value else ""


def decimal_texts(ds: Dataset, tag: BaseTag) -> list[str] | None:
    """The values of an unconverted explicit-VR DS or IS element as stripped text ([] when it is empty),
    or None when pydicom has to read it (absent, implicit VR, another VR, or already converted)."""
    element = ds.get_item(tag)
    if (
        not isinstance(element, RawDataElement)
        or element.VR not in _DECIMAL_VRS
        or not isinstance(element.value, bytes)
    ):
        return None
    try:
        joined = element.value.decode("ascii").strip("\x00 ")
    except UnicodeDecodeError:
        return None
    return [item.strip() for item in joined.split("\\")] if joined else []


def integer(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    """A single integer attribute (US or IS); `default` when absent, None when malformed.

    US is read from its two bytes in the element's byte order and IS from its digits when the element is
    still raw; anything else (a signed or decimal IS, other VRs, converted elements) goes through pydicom.
    """
    tag = tag_of(keyword)
    element = ds.get_item(tag)
    if element is None:
        return default
    raw = element.value
    try:
        if isinstance(element, RawDataElement) and isinstance(raw, bytes):
            vr = element.VR or dictionary_VR(tag)
            if vr == "IS":
                digits = raw.decode("ascii").strip("\x00 ")
                if not digits:
                    return default
                if digits.isdigit():
                    return int(digits)
                # a sign, or text like "2.0" that pydicom still reads as 2: its conversion decides
            if vr == "US":
                return (
                    int.from_bytes(raw, "little" if element.is_little_endian else "big")
                    if len(raw) == 2
                    else None
                )
        value = ds[tag].value
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError, UnicodeDecodeError):
        return None


def text_value(ds: Dataset, tag: BaseTag) -> str:
    """An element's text as str(ds.get(keyword)) gives it ("" when absent)."""
    element = ds.get_item(tag)
    if element is None:
        return ""
    raw = element.value if isinstance(element, RawDataElement) else None
    if isinstance(raw, bytes) and raw.isascii() and b"\\" not in raw and b"\x1b" not in raw:
        # plain ASCII, one value, no ISO 2022 escape: what pydicom decodes it to in any character set
        return raw.decode("ascii").rstrip("\x00 ")
    value = ds[tag].value
    return "" if value is None else str(value)
