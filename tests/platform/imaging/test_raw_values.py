"""Numbers and UIDs read from raw elements (ingest's fast path) against pydicom's own conversion."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from atrium.imaging.decode import _float, _float_list, header_float, header_floats, read_instance
from atrium.imaging.deid import deidentify
from atrium.imaging.raw_values import decimal_texts, integer, tag_of, text_value, uid_text
from tests.platform.imaging.helpers import public_file

# Explicit and implicit VR, big-endian, CT, and a colour ultrasound.
PUBLIC_FILES = [
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "CT_small.dcm",
    "US1_UNCR.dcm",
]


def _written(syntax: str = ExplicitVRLittleEndian, **values: object) -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1470.7"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _file(syntax: str = ExplicitVRLittleEndian, **values: object) -> Dataset:
    """A dataset written with `values` and read back, its elements still raw."""
    return pydicom.dcmread(io.BytesIO(_written(syntax, **values)))


def test_hand_written_values():
    ds = _file(
        ImagePositionPatient=["-12.5", "3", "1e2"],
        SliceThickness="8.00",
        InstanceNumber="12",
        SpacingBetweenSlices="",
        PixelSpacing=["1.25", "1.25"],
    )
    assert decimal_texts(ds, tag_of("ImagePositionPatient")) == ["-12.5", "3", "1e2"]
    assert header_floats(ds, "ImagePositionPatient") == [-12.5, 3.0, 100.0]
    assert header_float(ds, "ImagePositionPatient") is None  # three values are not one number
    assert header_float(ds, "SliceThickness") == 8.0
    assert header_floats(ds, "SliceThickness") is None  # one value is not a list
    assert header_float(ds, "InstanceNumber") == 12.0
    assert header_float(ds, "SpacingBetweenSlices") is None
    assert header_floats(ds, "PixelSpacing") == [1.25, 1.25]
    assert header_float(ds, "TriggerTime") is None  # absent
    assert decimal_texts(ds, tag_of("TriggerTime")) is None
    assert uid_text(ds, tag_of("SOPInstanceUID")) == "1.2.826.0.1.3680043.10.1470.7"
    assert uid_text(ds, tag_of("StudyInstanceUID")) == ""


def test_what_the_fast_path_leaves_to_pydicom():
    implicit = _file(ImplicitVRLittleEndian, ImagePositionPatient=["1", "2", "3"])
    assert decimal_texts(implicit, tag_of("ImagePositionPatient")) is None  # no VR in the file
    assert header_floats(implicit, "ImagePositionPatient") == [1.0, 2.0, 3.0]
    converted = _file(SliceThickness="2.5")
    assert converted.SliceThickness == 2.5  # now converted by pydicom
    assert decimal_texts(converted, tag_of("SliceThickness")) is None
    assert header_float(converted, "SliceThickness") == 2.5
    with pytest.raises(KeyError, match="not a DICOM keyword"):
        tag_of("NoSuchKeyword")


def test_malformed_numbers_read_as_none():
    data = _written(SliceThickness="987", ImagePositionPatient=["1", "654", "3"])
    ds = pydicom.dcmread(io.BytesIO(data.replace(b"987 ", b"abc ").replace(b"654", b"x.y")))
    assert header_float(ds, "SliceThickness") is None
    assert header_floats(ds, "ImagePositionPatient") is None


@pytest.mark.parametrize("name", PUBLIC_FILES)
def test_every_decimal_attribute_reads_as_pydicom_reads_it(name):
    """The independent reading: pydicom's converted value through the same float rules."""
    path = public_file(name)
    ours, theirs = pydicom.dcmread(path), pydicom.dcmread(path)
    keywords = [keyword_for_tag(tag) for tag in theirs.keys()]
    keywords = [k for k in keywords if k and dictionary_VR(tag_of(k)) in ("DS", "IS")]
    assert keywords
    for keyword in keywords:
        assert header_float(ours, keyword) == _float(theirs.get(keyword)), keyword
        assert header_floats(ours, keyword) == _float_list(theirs.get(keyword)), keyword
    for keyword in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"):
        assert uid_text(ours, tag_of(keyword)) == str(theirs.get(keyword, ""))


@pytest.mark.parametrize("name", PUBLIC_FILES)
def test_integers_and_texts_read_as_pydicom_reads_them(name):
    """US in either byte order, IS, and single-valued text, each against pydicom's converted value."""
    path = public_file(name)
    ours, theirs = pydicom.dcmread(path), pydicom.dcmread(path)
    integers = texts = 0
    for tag in theirs.keys():
        keyword = keyword_for_tag(tag)
        vr = dictionary_VR(tag) if keyword else None
        value = theirs.get(keyword) if keyword else None
        if keyword and vr in ("US", "IS") and not isinstance(value, (list, MultiValue)):
            expected = int(value) if value not in (None, "") else -1
            assert integer(ours, keyword, -1) == expected, keyword
            integers += 1
        if keyword and vr in ("CS", "LO", "SH", "PN") and not isinstance(value, (list, MultiValue)):
            assert text_value(ours, tag_of(keyword)) == ("" if value is None else str(value)), keyword
            texts += 1
    assert integers >= 4 and texts >= 3
    assert integer(ours, "NumberOfFrames", 7) == int(theirs.get("NumberOfFrames", 7) or 7)


def test_integer_hand_cases(monkeypatch):
    # Ingest reads with pydicom's validation off (atrium.imaging.services.ingest_mode); so does this test,
    # whose malformed values would otherwise warn.
    monkeypatch.setattr(pydicom.config.settings, "reading_validation_mode", pydicom.config.IGNORE)
    ds = _file(Rows=512, InstanceNumber="  42 ", NumberOfFrames="")
    assert integer(ds, "Rows") == 512
    assert integer(ds, "InstanceNumber") == 42
    assert integer(ds, "NumberOfFrames", 1) == 1  # empty: the default
    assert integer(ds, "Columns", 9) == 9  # absent: the default
    broken = pydicom.dcmread(io.BytesIO(_written(InstanceNumber="77").replace(b"77", b"7x")))
    assert integer(broken, "InstanceNumber", 1) is None  # malformed: None, not the default
    for written, expected in ((b"2.0", 2), (b"-3 ", -3), (b"+4 ", 4)):  # as pydicom reads them
        odd = pydicom.dcmread(io.BytesIO(_written(InstanceNumber="991").replace(b"991", written)))
        assert integer(odd, "InstanceNumber") == expected == int(odd.InstanceNumber)


def test_decoded_instance_uids_follow_de_identification():
    decoded = read_instance(public_file("CT_small.dcm"))
    before = decoded.sop_uid, decoded.series_uid
    deidentify(decoded.header, "salt")
    assert (decoded.sop_uid, decoded.series_uid) != before
    assert decoded.sop_uid == str(decoded.header.SOPInstanceUID)
    assert decoded.series_uid == str(decoded.header.SeriesInstanceUID)
