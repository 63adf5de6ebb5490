"""DICOMweb with dicomweb-client as the client, its requests routed through Django's test client."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
from django.test import Client

from atrium.imaging.models import Instance, Series
from tests.platform.imaging.helpers import (
    dicomweb_for,
    ingest_paths,
    luma,
    pixel_frames,
    public_file,
    synthetic_cine,
)


@pytest.fixture
def stored(study, tmp_path: Path) -> dict[str, object]:
    synthetic_cine(tmp_path / "cine", n_slices=2, n_phases=2)
    cine_files = sorted((tmp_path / "cine").glob("*.dcm"))
    ingest_paths(study, cine_files)
    us = public_file("US1_UNCR.dcm")
    mr = public_file("emri_small.dcm")
    ingest_paths(study, [us, mr])
    return {"cine": cine_files, "us": us, "mr": mr}


def test_qido_finds_studies_series_and_instances(people, stored):
    client = dicomweb_for(people.annotator)
    studies = client.search_for_studies()
    assert len(studies) == 3
    mr_series = Series.objects.get(modality="MR", layout="clip")
    study_uid = mr_series.imaging_study.study_instance_uid
    found = client.search_for_studies(search_filters={"StudyInstanceUID": study_uid})
    assert [s["0020000D"]["Value"][0] for s in found] == [study_uid]
    series = client.search_for_series(study_instance_uid=study_uid)
    assert series[0]["0020000E"]["Value"][0] == mr_series.series_instance_uid
    instances = client.search_for_instances(study_uid, mr_series.series_instance_uid)
    assert instances[0]["00280008"]["Value"][0] == 10


def test_qido_matches_patient_id_modality_and_pages_with_limit_offset(people, stored):
    client = dicomweb_for(people.annotator)
    us = client.search_for_series(search_filters={"Modality": "US"})
    assert len(us) == 1 and us[0]["00080060"]["Value"] == ["US"]
    patient = Series.objects.get(modality="US").imaging_study.patient.pseudonym
    by_patient = client.search_for_studies(search_filters={"PatientID": patient})
    assert len(by_patient) == 1 and by_patient[0]["00100020"]["Value"] == [patient]
    assert client.search_for_studies(search_filters={"PatientID": patient[:6] + "*"}) != []
    first_two = client.search_for_studies(limit=2)
    rest = client.search_for_studies(offset=2)
    assert len(first_two) == 2 and len(rest) == 1
    assert first_two[0]["0020000D"] != rest[0]["0020000D"]


def test_outsiders_see_nothing(people, stored):
    assert dicomweb_for(people.outsider).search_for_studies() == []


def test_wado_metadata_is_the_deidentified_header_describing_served_pixels(people, stored):
    series = Series.objects.get(modality="US")
    client = dicomweb_for(people.annotator)
    metadata = client.retrieve_series_metadata(
        series.imaging_study.study_instance_uid, series.series_instance_uid
    )
    ds = pydicom.Dataset.from_json(metadata[0])
    assert ds.SOPInstanceUID == Instance.objects.get(series=series).sop_instance_uid
    assert ds.PatientIdentityRemoved == "YES"
    assert (ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.BitsAllocated) == (3, "RGB", 8)
    assert (ds.Rows, ds.Columns) == (480, 640)


def test_wado_frames_equal_pydicoms_pixel_array(people, stored):
    client = dicomweb_for(people.annotator)
    mr = Series.objects.get(modality="MR", layout="clip")
    sop = Instance.objects.get(series=mr).sop_instance_uid
    frames = client.retrieve_instance_frames(
        mr.imaging_study.study_instance_uid, mr.series_instance_uid, sop, frame_numbers=[1, 7]
    )
    expected = pixel_frames(stored["mr"])
    assert len(frames) == 2
    np.testing.assert_array_equal(np.frombuffer(frames[1], "<u2").reshape(64, 64), expected[6])
    us = Series.objects.get(modality="US")
    us_sop = Instance.objects.get(series=us).sop_instance_uid
    (rgb,) = client.retrieve_instance_frames(
        us.imaging_study.study_instance_uid, us.series_instance_uid, us_sop, [1]
    )
    original = pixel_frames(stored["us"])[0]
    np.testing.assert_array_equal(np.frombuffer(rgb, np.uint8).reshape(480, 640, 3), original)
    assert luma(original).shape == (480, 640)


def test_wado_frames_of_a_cine_instance_are_its_own_frame(people, stored):
    client = dicomweb_for(people.annotator)
    cine = Series.objects.get(layout="cine")
    row = Instance.objects.get(series=cine, slice_index=1, phase_index=0)
    (frame,) = client.retrieve_instance_frames(
        cine.imaging_study.study_instance_uid, cine.series_instance_uid, row.sop_instance_uid, [1]
    )
    assert np.frombuffer(frame, "<u2").reshape(12, 12)[5, 5] == 11  # slice 1, phase 0 -> value 11


def test_out_of_range_frames_are_an_error(people, stored):
    client = dicomweb_for(people.annotator)
    mr = Series.objects.get(modality="MR", layout="clip")
    sop = Instance.objects.get(series=mr).sop_instance_uid
    with pytest.raises(requests.HTTPError):
        client.retrieve_instance_frames(
            mr.imaging_study.study_instance_uid, mr.series_instance_uid, sop, [11]
        )


def test_stow_stores_into_the_study_named_by_the_query_parameter(people, study):
    client = dicomweb_for(people.study_lead)
    datasets = [pydicom.dcmread(public_file("MR_small.dcm")), pydicom.dcmread(public_file("US1_UNCR.dcm"))]
    result = client.store_instances(datasets, additional_params={"study": study.slug})
    assert len(result.ReferencedSOPSequence) == 2
    assert Series.objects.count() == 2
    assert all(s.cases.get().study == study for s in Series.objects.all())
    again = client.store_instances(datasets[:1], additional_params={"study": study.slug})
    assert "FailedSOPSequence" not in again
    assert Series.objects.count() == 2


def test_stow_refuses_annotators_and_requests_without_a_study(people, study):
    dataset = pydicom.dcmread(public_file("MR_small.dcm"))
    with pytest.raises(requests.HTTPError) as refused:
        dicomweb_for(people.annotator).store_instances([dataset], additional_params={"study": study.slug})
    assert refused.value.response.status_code == 403
    with pytest.raises(requests.HTTPError) as missing:
        dicomweb_for(people.study_lead).store_instances([dataset])
    assert missing.value.response.status_code == 400


def test_stow_of_a_pixel_less_instance_is_400_naming_the_problem(people, study):
    dataset = pydicom.dcmread(public_file("rtplan.dcm"))
    with pytest.raises(requests.HTTPError) as refused:
        dicomweb_for(people.study_lead).store_instances([dataset], additional_params={"study": study.slug})
    assert refused.value.response.status_code == 400
    assert "part 1: has no pixel data" in refused.value.response.json()["detail"]


def test_http_basic_authentication_works_for_dicomweb_clients(people, stored):
    client = Client()
    import base64

    token = base64.b64encode(b"ann:ann-password").decode()
    response = client.get("/dicomweb/studies", HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 200
    assert len(response.json()) == 3
    assert client.get("/dicomweb/studies").status_code == 401
