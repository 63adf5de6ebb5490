"""Exports of a study's reads are zips that read back: contours JSON, NIfTI label maps, plane labels, nnU-Net."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import nibabel as nib
import numpy as np
import pytest

from tests.platform.agreement.helpers import cardiac_case, standard_read

BASE = "/api/studies/{slug}/exports/{kind}/"


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


def _nifti(data: bytes):
    return nib.Nifti1Image.from_bytes(__import__("gzip").decompress(data))


@pytest.fixture
def case(people, study):
    case = cardiac_case(study)
    standard_read(case, people.annotator)
    return case


def test_contours_export_reads_back_as_the_drawn_polygons(case, people, api_client):
    z = _zip(api_client(people.ml_engineer).get(BASE.format(slug="cardiac-test", kind="contours")))
    doc = json.loads(z.read("contours.json"))
    reader = doc["cases"][0]["readers"][0]
    assert reader["reader"] == "obs:ann#1" and reader["phases"] == {"ed_phase": 0, "es_phase": 2}
    lv = [c for c in reader["contours"] if c["structure"] == "lv_endo" and c["phase"] == 0]
    assert len(lv) == 2 and lv[0]["points"] == [[1.5, 1.5], [5.5, 1.5], [5.5, 5.5], [1.5, 5.5]]


def test_nifti_label_maps_read_back_with_their_declared_label_order_and_spacing(case, people, api_client):
    z = _zip(api_client(people.study_lead).get(BASE.format(slug="cardiac-test", kind="nifti")))
    index = json.loads(z.read("labels.json"))
    assert index["labels"] == {
        "0": "background",
        "1": "LV blood pool",
        "2": "LV myocardium",
        "3": "RV blood pool",
    }
    entry = index["files"][0]
    img = _nifti(z.read(entry["file"]))
    data = np.asarray(img.dataobj)
    assert data.shape == (16, 16, 2, 3)  # x (column), y (row), slice, phase
    assert img.header.get_zooms()[:3] == pytest.approx((1.5, 1.5, 8.0))
    ed = data[:, :, :, 0].transpose(2, 1, 0)  # back to (S, H, W)
    assert (ed == 1).sum() == 32 and (ed == 2).sum() == 40 and (ed == 3).sum() == 32
    assert (ed[0, 2:6, 2:6] == 1).all()


def test_plane_labels_export_as_csv_and_json(people, api_client):
    from atrium.accounts.services import add_member
    from atrium.annotations.services import create_annotation
    from tests.factories import CaseFactory, SeriesFactory, StudyFactory

    us = StudyFactory(slug="us-test", task_kind="ultrasound")
    add_member(user=people.study_lead, study=us)
    add_member(user=people.annotator, study=us)
    series = SeriesFactory(imaging_study__patient__study=us, layout="clip", shape=[6, 8, 8], modality="US")
    clip = CaseFactory(study=us, series=series)
    create_annotation(
        case=clip,
        author=people.annotator,
        kind="plane_label",
        data={"plane": "4CH", "frame_start": 1, "frame_stop": 3},
    )
    z = _zip(api_client(people.study_lead).get(BASE.format(slug="us-test", kind="planes")))
    rows = list(csv.DictReader(io.StringIO(z.read("planes.csv").decode())))
    assert [(r["reader"], r["plane"], r["frame_start"], r["frame_stop"]) for r in rows] == [
        ("obs:ann#1", "4CH", "1", "3")
    ]
    doc = json.loads(z.read("planes.json"))
    assert doc["labels"][0]["plane"] == "4CH" and doc["frame_stop_inclusive"] is True


def test_nnunet_dataset_folder_has_images_labels_and_dataset_json(case, people, api_client):
    z = _zip(api_client(people.ml_engineer).get(BASE.format(slug="cardiac-test", kind="nnunet")))
    names = z.namelist()
    root = "Dataset001_cardiac-test"
    dataset = json.loads(z.read(f"{root}/dataset.json"))
    assert dataset["labels"] == {"background": 0, "LV": 1, "Myo": 2, "RV": 3} and dataset["numTraining"] == 2
    ident = f"case{case.pk:05d}ED"
    assert f"{root}/imagesTr/{ident}_0000.nii.gz" in names and f"{root}/labelsTr/{ident}.nii.gz" in names
    image = np.asarray(_nifti(z.read(f"{root}/imagesTr/{ident}_0000.nii.gz")).dataobj)
    labels = np.asarray(_nifti(z.read(f"{root}/labelsTr/{ident}.nii.gz")).dataobj)
    assert image.shape == labels.shape == (16, 16, 2)
    from atrium.imaging.pixel_store import get_pixel_store

    source = np.asarray(get_pixel_store().open(case.series.store_key))
    assert np.array_equal(image.transpose(2, 1, 0), source[:, 0].astype(np.float32))
    assert (labels == 1).sum() == 32


def test_exports_are_refused_to_annotators_and_unknown_kinds_are_404(case, people, api_client):
    assert api_client(people.annotator).get(BASE.format(slug="cardiac-test", kind="nifti")).status_code == 403
    assert (
        api_client(people.study_lead).get(BASE.format(slug="cardiac-test", kind="dicom")).status_code == 404
    )


def test_an_ultrasound_report_goes_through_the_platform(people, api_client):
    from atrium.accounts.services import add_member
    from atrium.agreement.services import compute_report
    from atrium.annotations.services import create_annotation
    from atrium.learning.models import ModelVersion, Prediction
    from tests.factories import CaseFactory, SeriesFactory, StudyFactory

    us = StudyFactory(slug="us-report", task_kind="ultrasound")
    for u in (people.annotator, people.annotator2, people.study_lead):
        add_member(user=u, study=us)
    series = SeriesFactory(imaging_study__patient__study=us, layout="clip", shape=[6, 8, 8], modality="US")
    clip = CaseFactory(study=us, series=series)
    create_annotation(
        case=clip,
        author=people.annotator,
        kind="plane_label",
        data={"plane": "4CH", "frame_start": 0, "frame_stop": 3},
    )
    create_annotation(
        case=clip,
        author=people.annotator2,
        kind="plane_label",
        data={"plane": "4CH", "frame_start": 1, "frame_stop": 3},
    )
    version = ModelVersion.objects.create(study=us, family="classification", number=1)
    frames = [
        {"frame": f, "plane": "4CH" if f < 4 else "Background", "confidence": 0.9, "probs": [0.0] * 14}
        for f in range(6)
    ]
    Prediction.objects.create(case=clip, model_version=version, kind="plane_probs", data={"frames": frames})
    report = compute_report(study=us)
    planes = report.data["planes"]
    inter = next(p for p in planes["pairs"] if p["kind"] == "inter")
    assert inter["frame_agreement"] == pytest.approx(5 / 6) and inter["n_frames"] == 6
    model = planes["model_vs_consensus"][0]["vs_consensus"]
    # Consensus: frame 0 ties (4CH vs Background) and is dropped; frames 1-3 4CH, 4-5 Background.
    assert model["n_frames"] == 5 and model["accuracy"] == pytest.approx(1.0)
    body = api_client(people.study_lead).get("/api/studies/us-report/agreement/").json()
    assert body["report"]["planes"]["fleiss_kappa"] is not None
