"""NIfTI cine ingest with declared label maps, and the ingest command's exit status on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from atrium.imaging.errors import IngestError
from atrium.imaging.frames import frame_stack
from atrium.imaging.models import Series
from atrium.imaging.nifti import parse_label_mapping, remap_labels, to_slice_phase
from atrium.imaging.pixel_store import get_pixel_store
from tests.platform.imaging.helpers import public_file, synthetic_cine, zip_bytes

X, Y, Z, T = 6, 5, 3, 4


def write_subject(
    folder: Path, *, seg_values: tuple[int, int, int] = (1, 2, 3)
) -> tuple[np.ndarray, np.ndarray]:
    """A UK Biobank-style subject folder: sa.nii.gz (X, Y, Z, T) int16 and seg_sa.nii.gz."""
    folder.mkdir(parents=True, exist_ok=True)
    image = np.arange(X * Y * Z * T, dtype=np.int16).reshape(X, Y, Z, T)
    seg = np.zeros((X, Y, Z, T), dtype=np.uint8)
    seg[1, 1], seg[2, 2], seg[3, 3] = seg_values
    affine = np.diag([1.8, 1.6, 10.0, 1.0])
    image_nii = nib.Nifti1Image(image, affine)
    image_nii.header.set_zooms((1.8, 1.6, 10.0, 0.03))
    image_nii.header.set_xyzt_units("mm", "sec")
    nib.save(image_nii, folder / "sa.nii.gz")
    nib.save(nib.Nifti1Image(seg, affine), folder / "seg_sa.nii.gz")
    return image, seg


def test_label_mappings_are_declared_presets_or_explicit():
    assert parse_label_mapping("ukbb") == {1: 1, 2: 2, 3: 3}
    assert parse_label_mapping("acdc") == {1: 3, 2: 2, 3: 1}
    assert parse_label_mapping("1:RV, 2:myo, 3:lv") == {1: 3, 2: 2, 3: 1}
    with pytest.raises(ValueError, match="bad label mapping"):
        parse_label_mapping("1:LA")


def test_values_outside_the_mapping_are_an_error_never_a_guess():
    with pytest.raises(IngestError, match=r"label values \[4\]"):
        remap_labels(np.array([0, 1, 4]), {1: 1}, "seg.nii.gz")


def test_volumes_become_slice_phase_rows_columns_ordered_along_the_normal():
    data = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # (X, Y, Z, T)
    out = to_slice_phase(data, np.diag([1.0, 1.0, 1.0, 1.0]))
    assert out.shape == (4, 5, 3, 2)
    assert out[1, 2, 0, 1] == data[1, 0, 1, 2]
    flipped = to_slice_phase(data, np.diag([1.0, 1.0, -1.0, 1.0]))
    np.testing.assert_array_equal(flipped, out[::-1])


def test_a_ukbb_subject_is_ingested_with_mapped_labels_and_spacing(study, tmp_path: Path):
    image, seg = write_subject(tmp_path / "1000001")
    call_command("ingest", str(tmp_path), study=study.slug, labels="ukbb", no_progress=True)
    series = Series.objects.get()
    assert series.source == "nifti"
    assert series.shape == [Z, T, Y, X]
    assert series.pixel_spacing_mm == pytest.approx([1.6, 1.8])
    assert series.slice_spacing_mm == pytest.approx(10.0)
    assert series.frame_time_ms == pytest.approx(30.0)
    stored = np.asarray(frame_stack(series)).reshape(Z, T, Y, X)
    np.testing.assert_array_equal(stored, image.transpose(2, 3, 1, 0))
    labels = np.asarray(get_pixel_store().open(series.label_store_key))
    np.testing.assert_array_equal(labels, seg.transpose(2, 3, 1, 0))
    call_command("ingest", str(tmp_path), study=study.slug, labels="ukbb", no_progress=True)
    assert Series.objects.count() == 1


def test_acdc_labels_are_mapped_to_platform_labels(study, tmp_path: Path):
    write_subject(tmp_path / "patient001", seg_values=(1, 2, 3))  # ACDC: 1 RV, 2 Myo, 3 LV
    call_command(
        "ingest",
        str(tmp_path / "patient001" / "sa.nii.gz"),
        study=study.slug,
        labels="acdc",
        no_progress=True,
    )
    labels = np.asarray(get_pixel_store().open(Series.objects.get().label_store_key))
    # voxel (1, 1, z, t) held ACDC 1 (RV) -> platform 3; (3, 3) held ACDC 3 (LV) -> platform 1
    assert labels[0, 0, 1, 1] == 3 and labels[0, 0, 2, 2] == 2 and labels[0, 0, 3, 3] == 1


def test_a_label_map_without_a_declared_mapping_fails_the_command(study, tmp_path: Path):
    write_subject(tmp_path / "s1")
    with pytest.raises(CommandError):
        call_command("ingest", str(tmp_path), study=study.slug, no_progress=True)
    assert Series.objects.count() == 0


def test_the_command_exits_non_zero_naming_bad_files(study, tmp_path: Path, capsys):
    synthetic_cine(tmp_path / "in", n_slices=1, n_phases=2)
    (tmp_path / "in" / "junk.dcm").write_bytes(b"not dicom" * 40)
    shutil.copy(public_file("rtplan.dcm"), tmp_path / "in" / "plan.dcm")
    with pytest.raises(CommandError, match="2 file"):
        call_command("ingest", str(tmp_path / "in"), study=study.slug, no_progress=True)
    err = capsys.readouterr().err
    assert "junk.dcm: is not a DICOM file" in err
    assert "plan.dcm: has no pixel data" in err
    assert Series.objects.count() == 1  # the good cine was stored


@pytest.mark.parametrize(
    ("members", "problem"),
    [({"../up.dcm": b"x" * 10}, "path traversal"), ({"big.dcm": b"\0" * (20 * 1024 * 1024)}, "zip bomb")],
)
def test_the_command_refuses_unsafe_zips(study, tmp_path: Path, members, problem):
    archive = tmp_path / "in.zip"
    archive.write_bytes(zip_bytes(members))
    with pytest.raises(CommandError, match=problem):
        call_command("ingest", str(archive), study=study.slug, no_progress=True)
