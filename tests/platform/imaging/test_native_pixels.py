"""native_grey_pixels reads native grey pixel data as pydicom's pixel_array does, or declines."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.data.data_manager import DATA_ROOT
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from atrium.imaging.native_pixels import native_grey_pixels


def _written(
    values: np.ndarray, *, allocated: int, stored: int, signed: int, syntax=ExplicitVRLittleEndian, frames=1
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.file_meta.MediaStorageSOPInstanceUID = "2.25.1"
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.4", "2.25.1"
    ds.Rows, ds.Columns = values.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = (
        allocated,
        stored,
        stored - 1,
        signed,
    )
    if frames > 1:
        ds.NumberOfFrames = frames
    byteorder = ">" if syntax == ExplicitVRBigEndian else "<"
    ds.PixelData = values.astype(f"{byteorder}u{allocated // 8}").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)  # encoded as the transfer syntax says
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


# Raw stored words, including bits above BitsStored that pydicom masks away (unsigned) or reads as the
# sign (signed): 4096 = bit 12 only, 65535 = all bits.
WORDS = np.array([[0, 1, 2047, 2048], [4095, 4096, 40000, 65535]], dtype=np.uint32)


@pytest.mark.parametrize("signed", [0, 1])
@pytest.mark.parametrize("stored", [12, 16])
@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_16_bit_pixels_equal_pydicoms(signed, stored, syntax):
    ds = _written(WORDS, allocated=16, stored=stored, signed=signed, syntax=syntax)
    ours = native_grey_pixels(ds)
    assert ours is not None
    expected = ds.pixel_array
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected)


def test_hand_computed_12_bit_values():
    unsigned = native_grey_pixels(_written(WORDS, allocated=16, stored=12, signed=0))
    signed = native_grey_pixels(_written(WORDS, allocated=16, stored=12, signed=1))
    np.testing.assert_array_equal(unsigned, [[0, 1, 2047, 2048], [4095, 0, 40000 % 4096, 4095]])
    # 12-bit two's complement: 2048 is -2048, 4095 is -1; 40000 % 4096 = 3136 is 3136 - 4096 = -960.
    np.testing.assert_array_equal(signed, [[0, 1, 2047, -2048], [-1, 0, -960, -1]])


@pytest.mark.parametrize("signed", [0, 1])
def test_8_bit_multi_frame_pixels_equal_pydicoms(signed):
    clip = np.random.default_rng(0).integers(0, 256, size=(5, 6, 7))
    ds = _written(clip, allocated=8, stored=8, signed=signed, frames=5)
    ours = native_grey_pixels(ds)
    assert ours is not None and ours.shape == (5, 6, 7)
    np.testing.assert_array_equal(ours, ds.pixel_array)


def test_it_declines_what_it_does_not_read_itself():
    assert (
        native_grey_pixels(_written(WORDS, allocated=16, stored=16, signed=0, syntax=ExplicitVRBigEndian))
        is None
    )
    ds = _written(WORDS, allocated=16, stored=16, signed=0)
    short = Dataset(ds)
    short.file_meta = ds.file_meta
    short.PixelData = ds.PixelData[:-2]
    assert native_grey_pixels(short) is None  # truncated: pydicom reports it
    ds.file_meta.TransferSyntaxUID = RLELossless
    assert native_grey_pixels(ds) is None
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SamplesPerPixel = 3
    assert native_grey_pixels(ds) is None
    ds.SamplesPerPixel, ds.BitsAllocated = 1, 32
    assert native_grey_pixels(ds) is None


@pytest.mark.filterwarnings("ignore")  # pydicom's warnings about its deliberately odd test files
def test_every_small_pydicom_data_file_it_reads_equals_pydicoms_pixel_array():
    read = 0
    # pydicom's own test files and pydicom-data's (where `MR_small.dcm` is found), never downloaded
    roots = {Path(DATA_ROOT), Path(get_testdata_file("MR_small.dcm", download=False)).parent}
    small = {p for root in roots for p in root.rglob("*.dcm") if p.stat().st_size < 600_000}
    for path in sorted(small):
        try:
            ds = pydicom.dcmread(path)
        except Exception:  # a deliberately broken test file
            continue
        try:
            ours = native_grey_pixels(ds)
        except Exception as exc:
            raise AssertionError(f"{Path(path).name}: {exc!r}") from exc
        if ours is None:
            continue
        try:
            expected = ds.pixel_array
        except Exception:  # pydicom cannot decode it either
            continue
        assert ours.dtype == expected.dtype, Path(path).name
        np.testing.assert_array_equal(ours, expected, err_msg=Path(path).name)
        read += 1
    assert read >= 10  # MR, CT, multi-frame and more among pydicom's native little-endian files
