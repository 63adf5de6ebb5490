"""Decoding real public DICOM (several syntaxes, multi-frame, colour) and refusing bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from atrium.imaging.decode import read_instance
from atrium.imaging.errors import IngestError
from tests.platform.imaging.helpers import luma, pixel_frames, public_file

GREY_FILES = [
    "MR_small.dcm",  # explicit VR little endian, int16
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_bigendian.dcm",
    "emri_small.dcm",  # multi-frame MR
    "emri_small_RLE.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
    "emri_small_jpeg_ls_lossless.dcm",
    "JPEG-LL.dcm",  # JPEG lossless process 14
    "JPGExtended.dcm",  # JPEG extended 12-bit
]
COLOR_FILES = [
    "US1_UNCR.dcm",  # ultrasound RGB
    "US1_J2KR.dcm",  # JPEG 2000 ultrasound (YBR_RCT)
    "SC_rgb_rle.dcm",
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless RGB
    "SC_rgb_small_odd.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "color3d_jpeg_baseline.dcm",  # multi-frame ultrasound, JPEG baseline YBR_FULL_422
]


@pytest.mark.parametrize("name", GREY_FILES)
def test_grey_frames_equal_pydicoms_pixel_array(name):
    path = public_file(name)
    decoded = read_instance(path)
    expected = pixel_frames(path)
    assert decoded.frames.dtype.byteorder in ("<", "=", "|")
    np.testing.assert_array_equal(decoded.frames, expected)
    assert decoded.color is None


@pytest.mark.parametrize("name", COLOR_FILES)
def test_colour_keeps_the_rgb_original_and_feeds_a_grey_luma(name):
    path = public_file(name)
    decoded = read_instance(path)
    expected = pixel_frames(path)
    np.testing.assert_array_equal(decoded.color, expected)
    np.testing.assert_array_equal(decoded.frames, luma(expected))


def test_palette_colour_ultrasound_is_kept_as_rgb():
    path = public_file("gdcm-US-ALOKA-16.dcm")
    decoded = read_instance(path)
    ds = pydicom.dcmread(path)
    rgb = pydicom.pixels.apply_color_lut(ds.pixel_array, ds)
    np.testing.assert_array_equal(decoded.color[0], (rgb.astype(np.uint32) >> 8).astype(np.uint8))


def test_a_text_file_is_refused_as_not_dicom(tmp_path: Path):
    path = tmp_path / "notes.dcm"
    path.write_text("this is not an image\n" * 20)
    with pytest.raises(IngestError, match=r"notes\.dcm: is not a DICOM file"):
        read_instance(path)


def test_a_truncated_file_is_refused_as_truncated():
    with pytest.raises(IngestError, match=r"MR_truncated\.dcm: is truncated"):
        read_instance(public_file("MR_truncated.dcm"))


def test_a_file_cut_short_in_the_middle_of_its_pixels_is_refused(tmp_path: Path):
    data = public_file("MR_small.dcm").read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 3000])
    with pytest.raises(IngestError, match=r"cut\.dcm: (is truncated|cannot be parsed|has no pixel data)"):
        read_instance(cut)


def test_a_file_without_pixels_is_refused():
    with pytest.raises(IngestError, match=r"rtplan\.dcm: has no pixel data"):
        read_instance(public_file("rtplan.dcm"))


def test_an_unsupported_transfer_syntax_is_named(tmp_path: Path):
    ds = pydicom.dcmread(public_file("JPEG2000.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder here
    path = tmp_path / "mpeg.dcm"
    ds.save_as(path)
    with pytest.raises(IngestError, match=r"mpeg\.dcm: uses transfer syntax 1\.2\.840\.10008\.1\.2\.4\.100"):
        read_instance(path)
