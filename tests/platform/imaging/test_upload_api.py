"""POST /api/studies/{slug}/uploads/: files or a zip, streamed to disk; bad input is a named 4xx."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from atrium.imaging.models import Series
from tests.platform.imaging.helpers import public_file, synthetic_cine, zip_bytes

URL = "/api/studies/cardiac-test/uploads/"


def upload(client, *files: tuple[str, bytes]):
    payload = {f"file{i}": SimpleUploadedFile(name, data) for i, (name, data) in enumerate(files)}
    return client.post(URL, payload, format="multipart")


@pytest.fixture
def cine_files(tmp_path: Path) -> list[tuple[str, bytes]]:
    synthetic_cine(tmp_path / "cine", n_slices=2, n_phases=3)
    return [(p.name, p.read_bytes()) for p in sorted((tmp_path / "cine").glob("*.dcm"))]


def test_a_lead_uploads_files_and_gets_the_ingest_report(people, api_client, cine_files):
    response = upload(api_client(people.study_lead), *cine_files)
    assert response.status_code == 201, response.json()
    report = response.json()
    assert report["files_seen"] == 6
    assert len(report["series_created"]) == 1 and len(report["cases_created"]) == 1
    assert Series.objects.get().shape[:2] == [2, 3]


def test_a_zip_upload_is_ingested_member_by_member(people, api_client, cine_files):
    archive = zip_bytes({f"cine/{name}": data for name, data in cine_files})
    response = upload(api_client(people.ml_engineer), ("cine.zip", archive))
    assert response.status_code == 201
    assert response.json()["files_seen"] == 6


def test_resending_the_same_instances_answers_200_with_a_duplicate_count(people, api_client, cine_files):
    client = api_client(people.admin)
    assert upload(client, *cine_files).status_code == 201
    again = upload(client, *cine_files)
    assert again.status_code == 200
    assert again.json()["duplicates"] == 6
    assert again.json()["series_created"] == []
    assert Series.objects.count() == 1


def test_annotators_may_not_upload_and_outsiders_do_not_see_the_study(people, api_client, cine_files):
    assert upload(api_client(people.annotator), *cine_files).status_code == 403
    assert upload(api_client(people.outsider), *cine_files).status_code == 404
    assert Series.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "make", "problem"),
    [
        ("notes.dcm", lambda: b"plain text, not DICOM\n" * 50, "is not a DICOM file"),
        ("cut.dcm", lambda: public_file("MR_truncated.dcm").read_bytes(), "is truncated"),
        ("plan.dcm", lambda: public_file("rtplan.dcm").read_bytes(), "has no pixel data"),
    ],
)
def test_bad_files_are_400_naming_the_file_and_nothing_is_stored(
    people, api_client, cine_files, name, make, problem
):
    response = upload(api_client(people.study_lead), cine_files[0], (name, make()))
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{name}: {problem}")
    assert Series.objects.count() == 0


def test_an_unsupported_transfer_syntax_is_400(people, api_client, tmp_path: Path):
    import pydicom

    ds = pydicom.dcmread(public_file("JPEG2000.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
    ds.save_as(tmp_path / "mpeg.dcm")
    response = upload(api_client(people.study_lead), ("mpeg.dcm", (tmp_path / "mpeg.dcm").read_bytes()))
    assert response.status_code == 400
    assert "mpeg.dcm: uses transfer syntax 1.2.840.10008.1.2.4.100" in response.json()["detail"]


def test_a_zip_with_path_traversal_is_400(people, api_client, cine_files):
    archive = zip_bytes({"../../etc/evil.dcm": cine_files[0][1]})
    response = upload(api_client(people.study_lead), ("evil.zip", archive))
    assert response.status_code == 400
    assert "evil.zip" in response.json()["detail"] and "path traversal" in response.json()["detail"]


def test_a_zip_bomb_is_400(people, api_client):
    archive = zip_bytes({"bomb.dcm": b"\0" * (50 * 1024 * 1024)}, compression=zipfile.ZIP_DEFLATED)
    assert len(archive) < 200_000
    response = upload(api_client(people.study_lead), ("bomb.zip", archive))
    assert response.status_code == 400
    assert "zip bomb" in response.json()["detail"]
    assert "bomb.zip" in response.json()["detail"]


def test_an_over_size_upload_is_413_with_a_message(people, api_client, cine_files, settings):
    settings.ATRIUM_MAX_UPLOAD_BYTES = 4096
    response = upload(api_client(people.study_lead), *cine_files)
    assert response.status_code == 413
    assert "limit of 4096 bytes" in response.json()["detail"]
    assert Series.objects.count() == 0


def test_a_session_upload_needs_the_csrf_token(people, cine_files):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(people.study_lead)
    name, data = cine_files[0]
    assert client.post(URL, {"f": SimpleUploadedFile(name, data)}).status_code == 403
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = client.post(URL, {"f": SimpleUploadedFile(name, data)}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


def test_an_empty_upload_is_400(people, api_client):
    response = api_client(people.study_lead).post(URL, {}, format="multipart")
    assert response.status_code == 400
