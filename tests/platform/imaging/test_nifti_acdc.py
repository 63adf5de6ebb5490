"""ACDC layout: per-frame 3D NIfTI volumes (ED/ES) with _gt label maps and Info.cfg become one cine."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from atrium.imaging.errors import IngestError
from atrium.imaging.frames import frame_stack
from atrium.imaging.models import Series
from atrium.imaging.nifti import find_acdc_sets, load_acdc_cine
from atrium.imaging.pixel_store import get_pixel_store
from atrium.studies.models import Case

X, Y, Z = 6, 5, 3
AFFINE = np.diag([1.5, 1.4, 10.0, 1.0])


def _save(path: Path, data: np.ndarray, zooms: tuple[float, ...] = (1.5, 1.4, 10.0)) -> None:
    nii = nib.Nifti1Image(data, AFFINE)
    nii.header.set_zooms((*zooms, 1.0)[: data.ndim])
    nib.save(nii, path)


def write_acdc_subject(
    folder: Path,
    *,
    frames: tuple[int, ...] = (1, 12),
    info: str | None = "ED: 1\nES: 12\nGroup: NOR\nNbFrame: 30\n",
    labels: bool = True,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """patientNNN_frameXX.nii.gz (X, Y, Z) uint16 volumes with _gt maps in ACDC values (1 RV, 2 Myo, 3 LV)."""
    folder.mkdir(parents=True, exist_ok=True)
    subject = folder.name
    written = {}
    for number in frames:
        image = (np.arange(X * Y * Z, dtype=np.uint16).reshape(X, Y, Z) + 100 * number).astype(np.uint16)
        seg = np.zeros((X, Y, Z), dtype=np.uint8)
        seg[1, 1, :], seg[2, 2, :], seg[3, 3, 0] = 1, 2, 3  # RV, Myo, LV (ACDC values)
        seg[4, 4, 2] = 3 if number == frames[0] else 0  # differs between frames
        _save(folder / f"{subject}_frame{number:02d}.nii.gz", image)
        if labels:
            _save(folder / f"{subject}_frame{number:02d}_gt.nii.gz", seg)
        written[number] = (image, seg)
    if info is not None:
        (folder / "Info.cfg").write_text(info)
    return written


def ingest(path: Path, study, **options) -> None:
    call_command("ingest", str(path), study=study.slug, no_progress=True, **options)


def test_an_acdc_subject_becomes_one_cine_with_ed_es_and_mapped_labels(study, tmp_path: Path):
    written = write_acdc_subject(tmp_path / "patient001")
    _save(tmp_path / "patient001" / "patient001_4d.nii.gz", np.zeros((X, Y, Z, 30), np.uint16))
    ingest(tmp_path, study, labels="acdc")
    series = Series.objects.get()
    assert (series.source, series.layout, series.shape) == ("nifti", "cine", [Z, 2, Y, X])
    assert series.pixel_spacing_mm == pytest.approx([1.4, 1.5]) and series.slice_spacing_mm == 10.0
    assert series.frame_time_ms is None
    assert "frames 1, 12 as phases 0, 1 (ED frame 1, ES frame 12)" in series.description
    assert "patient001" not in series.description
    case = Case.objects.get(series=series)
    assert (case.ed_phase, case.es_phase) == (0, 1)
    stored = np.asarray(frame_stack(series)).reshape(Z, 2, Y, X)
    for phase, number in enumerate((1, 12)):
        np.testing.assert_array_equal(stored[:, phase], written[number][0].transpose(2, 1, 0))
    labels = np.asarray(get_pixel_store().open(series.label_store_key))
    assert labels.shape == (Z, 2, Y, X)
    # ACDC 1 (RV) -> platform 3, 2 (Myo) -> 2, 3 (LV) -> 1; labels[z, phase, y, x]
    assert (labels[0, 0, 1, 1], labels[0, 0, 2, 2], labels[0, 0, 3, 3]) == (3, 2, 1)
    assert (labels[2, 0, 4, 4], labels[2, 1, 4, 4]) == (1, 0)
    ingest(tmp_path, study, labels="acdc")
    assert Series.objects.count() == 1


def test_ed_and_es_come_from_the_parameters_without_an_info_cfg(study, tmp_path: Path):
    write_acdc_subject(tmp_path / "patient002", frames=(1, 9, 14), info=None)
    ingest(tmp_path, study, labels="acdc", ed=14, es=9)
    case = Case.objects.get()
    assert (case.ed_phase, case.es_phase) == (2, 1)
    assert "frames 1, 9, 14 as phases 0, 1, 2 (ED frame 14, ES frame 9)" in case.series.description


def test_without_info_cfg_or_parameters_ed_and_es_stay_unmarked(study, tmp_path: Path):
    write_acdc_subject(tmp_path / "patient003", info=None, labels=False)
    ingest(tmp_path / "patient003", study)
    case = Case.objects.get()
    assert (case.ed_phase, case.es_phase) == (None, None)
    assert not case.series.label_store_key


def test_one_frame_file_named_directly_is_ingested_with_its_own_label_map(study, tmp_path: Path):
    write_acdc_subject(tmp_path / "patient004", info=None)
    ingest(tmp_path / "patient004" / "patient004_frame12.nii.gz", study, labels="acdc")
    series = Series.objects.get()
    assert series.shape == [Z, 1, Y, X] and series.label_store_key


def test_parameters_that_contradict_info_cfg_are_an_error(study, tmp_path: Path):
    write_acdc_subject(tmp_path / "patient005")
    with pytest.raises(CommandError):
        ingest(tmp_path, study, labels="acdc", ed=12)
    assert Series.objects.count() == 0


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("shape", r"has shape \(6, 5, 4\), but patient009_frame01.nii.gz has \(6, 5, 3\)"),
        ("2d", r"is 2D \(shape \(6, 5\)\); an ACDC frame must be one 3D volume"),
        ("4d", r"is 4D .* an ACDC frame must be one 3D volume"),
        ("spacing", r"has voxel size"),
        ("gt_shape", r"does not match its frame"),
        ("missing_gt", r"label maps \(_gt\) for frames \[1\] but image frames \[1, 12\]"),
        ("no_mapping", r"needs a declared label mapping"),
        ("ed_not_given", r"ED is frame 3, which is not among the given frames \[1, 12\]"),
        ("bad_info", r"ES must be a frame number, got 'twelve'"),
        ("duplicate", r"frame 1 is given twice"),
    ],
)
def test_bad_acdc_subjects_are_refused_naming_the_file_and_problem(
    study, tmp_path: Path, settings, damage, problem
):
    settings.PIXEL_STORE_ROOT = tmp_path / "pixels"
    folder = tmp_path / "patient009"
    write_acdc_subject(folder)
    frame12 = folder / "patient009_frame12.nii.gz"
    mapping = {1: 3, 2: 2, 3: 1}
    if damage == "shape":
        _save(frame12, np.zeros((X, Y, Z + 1), np.uint16))
    elif damage == "2d":
        _save(frame12, np.zeros((X, Y), np.uint16))
    elif damage == "4d":
        _save(frame12, np.zeros((X, Y, Z, 2), np.uint16), zooms=(1.5, 1.4, 10.0, 1.0))
    elif damage == "spacing":
        _save(frame12, np.zeros((X, Y, Z), np.uint16), zooms=(2.0, 1.4, 10.0))
    elif damage == "gt_shape":
        _save(folder / "patient009_frame12_gt.nii.gz", np.zeros((X, Y, Z + 1), np.uint8))
    elif damage == "missing_gt":
        (folder / "patient009_frame12_gt.nii.gz").unlink()
    elif damage == "no_mapping":
        mapping = None
    elif damage == "ed_not_given":
        (folder / "Info.cfg").write_text("ED: 3\nES: 12\n")
    elif damage == "bad_info":
        (folder / "Info.cfg").write_text("ED: 1\nES: twelve\n")
    elif damage == "duplicate":
        _save(folder / "patient009_frame1.nii.gz", np.zeros((X, Y, Z), np.uint16))
    with pytest.raises(IngestError, match=problem) as refused:
        (subject,) = find_acdc_sets(tmp_path)
        load_acdc_cine(subject, mapping)
    assert "patient009" in str(refused.value)
    with pytest.raises(CommandError):
        ingest(tmp_path, study, **({"labels": "acdc"} if mapping else {}))
    assert Series.objects.count() == 0
    assert not list((tmp_path / "pixels").rglob("*.npy"))


def test_a_bad_subject_does_not_stop_the_good_ones_but_fails_the_command(study, tmp_path: Path, capsys):
    write_acdc_subject(tmp_path / "patient010")
    write_acdc_subject(tmp_path / "patient011")
    _save(tmp_path / "patient011" / "patient011_frame12.nii.gz", np.zeros((X, Y), np.uint16))
    with pytest.raises(CommandError, match="1 NIfTI stack"):
        ingest(tmp_path, study, labels="acdc")
    assert "patient011_frame12.nii.gz: is 2D" in capsys.readouterr().err
    assert Series.objects.count() == 1
