"""header_json (hand-written, decoding raw values itself) against pydicom's own to_json_dict."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from atrium.imaging.deid import deidentify
from atrium.imaging.dicom_json import BINARY_VRS, header_json
from tests.platform.imaging.helpers import public_file


def pydicom_json(ds: Dataset) -> dict:
    """pydicom's DICOM JSON, less what header_json leaves out by design (binary values, pixel data)."""

    def strip(node: dict) -> dict:
        out = {}
        for tag, element in node.items():
            if element["vr"] in BINARY_VRS or tag.startswith("7FE0"):
                continue
            if element["vr"] == "SQ":
                element = {"vr": "SQ", "Value": [strip(item) for item in element.get("Value", [])]}
            out[tag] = element
        return out

    return strip(ds.to_json_dict(bulk_data_threshold=10**9))


@pytest.mark.parametrize(
    "name",
    [
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "CT_small.dcm",
        "US1_UNCR.dcm",
        "emri_small.dcm",
        "JPEG-LL.dcm",
        "SC_rgb.dcm",
        "rtplan.dcm",
        "explicit_VR-UN.dcm",
    ],
)
def test_header_json_equals_pydicoms_json_for_public_files(name):
    path = public_file(name)
    assert header_json(pydicom.dcmread(path)) == pydicom_json(pydicom.dcmread(path))


def test_header_json_equals_pydicoms_json_after_de_identification():
    path = public_file("CT_small.dcm")
    ours, theirs = pydicom.dcmread(path), pydicom.dcmread(path)
    deidentify(ours, "salt")
    deidentify(theirs, "salt")
    assert header_json(ours) == pydicom_json(theirs)


def _written(charset: str | list[str], text: str) -> io.BytesIO:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1470.9"
    ds.SpecificCharacterSet = charset
    ds.InstitutionName = text
    ds.StudyDescription = text + "\\second"  # LO is multi-valued
    ds.ImageComments = text + " \\ not split"  # LT is not
    ds.PixelSpacing = ["0.5", "1.25"]
    ds.Rows = 4
    ds.SliceThickness = ""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(
    ("charset", "text"),
    [("ISO_IR 100", "Zürich"), ("ISO_IR 192", "Łódź 東京"), (["", "ISO 2022 IR 100"], "Zürich")],
)
def test_text_is_decoded_with_the_declared_character_set(charset, text):
    buffer = _written(charset, text)
    ds = pydicom.dcmread(buffer)
    buffer.seek(0)
    ours = header_json(ds)
    assert ours == pydicom_json(pydicom.dcmread(buffer))
    assert ours["00080080"] == {"vr": "LO", "Value": [text]}
    assert ours["00081030"] == {"vr": "LO", "Value": [text, "second"]}
    assert ours["00204000"] == {"vr": "LT", "Value": [text + " \\ not split"]}
    assert ours["00280030"] == {"vr": "DS", "Value": [0.5, 1.25]}
    assert ours["00280010"] == {"vr": "US", "Value": [4]}
    assert ours["00180050"] == {"vr": "DS"}


def test_a_shared_memo_changes_no_header():
    """One memo across files of other byte orders, syntaxes and character sets, as ingest shares one
    across a series: each header equals its memo-free JSON. The last two files hold the same bytes for
    their text and differ only in the declared character set, so the memo must key on the codec."""
    utf8 = _written("ISO_IR 192", "Zürich").getvalue()
    latin1 = utf8.replace(b"ISO_IR 192", b"ISO_IR 100")
    assert latin1 != utf8
    names = ["MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "CT_small.dcm", "rtplan.dcm"]
    sources = [public_file(name) for name in names] + [io.BytesIO(utf8), io.BytesIO(latin1)]
    memo: dict = {}
    shared, alone = [], []
    for source in sources:
        shared.append(header_json(pydicom.dcmread(source), memo=memo))
        if isinstance(source, io.BytesIO):
            source.seek(0)
        alone.append(header_json(pydicom.dcmread(source)))
    assert shared == alone
    assert memo  # the memo was used
    assert shared[-2]["00080080"] == {"vr": "LO", "Value": ["Zürich"]}
    assert shared[-1]["00080080"] == {"vr": "LO", "Value": ["Zürich".encode().decode("latin-1")]}
