"""Pages: login required, members see their studies and cases, others get 404."""

from __future__ import annotations

from tests.factories import CaseFactory, SeriesFactory


def test_pages_redirect_anonymous_users_to_the_login_page(client, db):
    for url in ("/", "/queue/", "/jobs/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_logging_in_shows_the_users_studies(client, people, study):
    response = client.post("/accounts/login/", {"username": "ann", "password": "ann-password"})
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200 and study.name.encode() in page.content


def test_a_wrong_password_is_reported(client, people):
    response = client.post("/accounts/login/", {"username": "ann", "password": "nope"})
    assert response.status_code == 200 and b"didn't match" in response.content


def test_the_case_page_mounts_the_tool_for_members_only(client, people, study):
    case = CaseFactory(study=study, series=SeriesFactory())
    client.force_login(people.annotator)
    page = client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    assert f'data-case-id="{case.pk}"'.encode() in page.content
    assert b"annotation_ui/app.js" in page.content
    client.force_login(people.outsider)
    assert client.get(f"/cases/{case.pk}/").status_code == 404


def test_the_openapi_schema_is_served(client, people):
    client.force_login(people.annotator)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/cases/{case_id}/annotations/" in response.content


def test_liveness_and_readiness_report_ok(client, db):
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.content
    assert ready.json()["checks"]["database"] == "ok"


def test_the_study_page_offers_retraining_to_ml_engineers_only(client, people, study):
    client.force_login(people.ml_engineer)
    assert b'data-testid="retrain"' in client.get(f"/studies/{study.slug}/").content
    client.force_login(people.annotator)
    page = client.get(f"/studies/{study.slug}/")
    assert page.status_code == 200 and b'data-testid="retrain"' not in page.content
