"""Authentication and limits: CSRF on session writes, upload rate limits, secure headers, upload limits."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from atrium.accounts.ratelimit import parse_rate
from tests.platform.security.world import World, build_world


@pytest.fixture
def world(db, tmp_path) -> World:
    cache.clear()
    yield build_world(tmp_path)
    cache.clear()


def token_client(world: World, role: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.keys[role]}")
    return client


def test_session_writes_without_the_csrf_token_are_refused(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["annotator"])
    url = f"/api/cases/{world.case.pk}/annotations/"
    body = {
        "kind": "contour",
        "data": {"structure": "lv_epi", "slice": 0, "phase": 0, "points": [[1, 1], [5, 1], [5, 5]]},
    }
    refused = browser.post(url, body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    browser.get(f"/cases/{world.case.pk}/")  # the page sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_session_uploads_and_stow_need_the_csrf_token_too(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["study_lead"])
    upload = browser.post("/api/studies/matrix/uploads/", {"f": SimpleUploadedFile("a.dcm", b"x")})
    assert upload.status_code == 403 and "CSRF" in upload.json()["detail"]
    stow = browser.generic("POST", "/dicomweb/studies?study=matrix", b"", content_type="multipart/related")
    assert stow.status_code == 403 and "CSRF" in stow.json()["detail"]


def test_token_requests_need_no_csrf_token(world):
    response = token_client(world, "annotator").post("/api/tokens/", {"name": "cli"}, format="json")
    assert response.status_code == 201


def test_a_rate_is_parsed_or_refused_with_its_reason():
    assert parse_rate("120/hour") == (120, 3600)
    assert parse_rate("5/minutes") == (5, 60)
    for bad in ("", "10", "ten/hour", "0/hour", "5/fortnight"):
        with pytest.raises(ValueError, match="120/hour"):
            parse_rate(bad)


def test_uploads_past_the_rate_limit_are_429_with_retry_after(world, settings):
    settings.ATRIUM_UPLOAD_RATE = "2/hour"
    client = token_client(world, "study_lead")
    files = lambda: {f"f{i}": SimpleUploadedFile(n, d) for i, (n, d) in enumerate(world.dicom_files)}  # noqa: E731
    for _ in range(2):
        assert client.post("/api/studies/matrix/uploads/", files(), format="multipart").status_code == 200
    blocked = client.post("/api/studies/matrix/uploads/", files(), format="multipart")
    assert blocked.status_code == 429
    assert "too many uploads" in blocked.json()["detail"] and int(blocked["Retry-After"]) > 0
    # the limit is per user: another lead still uploads
    other = token_client(world, "admin").post("/api/studies/matrix/uploads/", files(), format="multipart")
    assert other.status_code == 200


def test_stow_shares_the_upload_rate_limit(world, settings):
    from atrium.imaging.multipart_related import build_multipart

    settings.ATRIUM_UPLOAD_RATE = "1/minute"
    client = token_client(world, "ml_engineer")
    body, content_type = build_multipart([d for _, d in world.dicom_files], "application/dicom")
    assert (
        client.generic("POST", "/dicomweb/studies?study=matrix", body, content_type=content_type).status_code
        == 200
    )
    blocked = client.generic("POST", "/dicomweb/studies?study=matrix", body, content_type=content_type)
    assert blocked.status_code == 429 and blocked["Retry-After"]


def test_refused_uploads_do_not_use_up_the_limit_of_others(world, settings):
    settings.ATRIUM_UPLOAD_RATE = "1/hour"
    annotator = token_client(world, "annotator")
    for _ in range(3):
        assert annotator.post("/api/studies/matrix/uploads/", {}, format="multipart").status_code == 403


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/api/me/", "/api/schema/", "/health/live", "/dicomweb/studies"]
)
def test_every_kind_of_response_carries_the_security_headers(world, path):
    response = token_client(world, "annotator").get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_production_settings_turn_on_https_only_cookies_and_hsts():
    import ast
    from pathlib import Path

    source = Path("platform/atrium/settings/production.py").read_text()
    names = {
        t.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"):
        assert name in names, f"production settings do not set {name}"


def test_an_upload_over_the_size_limit_is_413_and_stores_nothing(world, settings):
    from atrium.imaging.models import Series

    settings.ATRIUM_MAX_UPLOAD_BYTES = 1000
    client = token_client(world, "study_lead")
    response = client.post(
        "/api/studies/matrix/uploads/", {"f": SimpleUploadedFile("big.dcm", b"\0" * 5000)}, format="multipart"
    )
    assert response.status_code == 413 and "limit of 1000 bytes" in response.json()["detail"]
    stow = client.generic(
        "POST",
        "/dicomweb/studies?study=matrix",
        b"\0" * 5000,
        content_type='multipart/related; type="application/dicom"; boundary=x',
    )
    assert stow.status_code == 413
    assert Series.objects.count() == 1


def test_uploads_of_the_wrong_type_are_refused_with_the_reason(world):
    client = token_client(world, "study_lead")
    text = client.post(
        "/api/studies/matrix/uploads/", {"f": SimpleUploadedFile("notes.txt", b"hello")}, format="multipart"
    )
    assert text.status_code == 400 and "notes.txt" in text.json()["detail"]
    json_body = client.post("/api/studies/matrix/uploads/", {"a": 1}, format="json")
    assert json_body.status_code in (400, 415) and json_body.json()["detail"]
    stow = client.generic("POST", "/dicomweb/studies?study=matrix", b"{}", content_type="application/json")
    assert stow.status_code == 415 and "multipart/related" in stow.json()["detail"]
