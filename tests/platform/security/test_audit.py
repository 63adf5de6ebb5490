"""The audit log records every write with before/after values; leads and admins read it (page and REST);
each case shows the history of its annotations."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from atrium.accounts.history import describe_change
from atrium.accounts.models import AuditEntry
from tests.platform.security.world import SQUARE, World, build_world

MOVED = [[2.0, 2.0], [9.0, 2.0], [9.0, 9.0], [3.0, 9.0]]


@pytest.fixture
def world(db, tmp_path) -> World:
    cache.clear()
    return build_world(tmp_path)


def token_client(world: World, role: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.keys[role]}")
    return client


def actions(world: World) -> list[str]:
    return list(AuditEntry.objects.filter(study=world.study).values_list("action", flat=True))


def test_a_change_is_described_field_by_field():
    before = {"structure": "lv_endo", "slice": 0, "phase": 0, "points": SQUARE, "mode": "freehand"}
    assert describe_change("contour", None, before, deleted=False) == (
        "created: lv_endo slice 0 phase 0, 4 points (freehand)"
    )
    assert describe_change("contour", before, {**before, "points": MOVED}, deleted=False) == "points moved"
    assert describe_change(
        "contour", before, {**before, "phase": 2, "points": SQUARE[:3]}, deleted=False
    ) == ("phase 0 -> 2; points 4 points -> 3 points")
    assert describe_change("contour", before, before, deleted=True) == "deleted"
    assert (
        describe_change(
            "plane_label", None, {"plane": "Abdominal", "frame_start": 1, "frame_stop": 4}, deleted=False
        )
        == "created: Abdominal frames 1-4"
    )


def test_annotation_writes_are_audited_with_versions_before_and_after(world):
    client = token_client(world, "annotator")
    url = f"/api/annotations/{world.annotation.pk}/"
    data = {"structure": "lv_endo", "slice": 0, "phase": 0, "points": MOVED}
    assert client.put(url, {"data": data, "version": 1}, format="json").status_code == 200
    assert client.delete(f"{url}?version=2").status_code == 204
    entries = AuditEntry.objects.filter(object_type="Annotation").order_by("id")
    assert [e.action for e in entries] == ["annotation.create", "annotation.update", "annotation.delete"]
    update = entries[1]
    assert update.actor == world.users["annotator"]
    assert update.before["version"] == 1 and update.after["version"] == 2
    assert update.before["data"]["points"] == SQUARE and update.after["data"]["points"] == MOVED
    assert entries[2].after["deleted"] is True and entries[2].after["version"] == 3


def test_submits_jobs_models_members_tokens_and_uploads_are_audited(world):
    lead, mle = token_client(world, "study_lead"), token_client(world, "ml_engineer")
    assert token_client(world, "annotator").post(f"/api/cases/{world.case.pk}/submit/").status_code == 200
    assert mle.post(f"/api/jobs/{world.job.pk}/cancel/").status_code == 200
    assert mle.post("/api/jobs/", {"kind": "train", "study": "matrix"}, format="json").status_code == 201
    assert mle.post(f"/api/models/{world.model_v2.pk}/rollback/").status_code == 200
    assert mle.post(f"/api/models/{world.model_v2.pk}/promote/").status_code == 200
    added = lead.post(
        "/api/studies/matrix/members/", {"username": "m-eve", "role": "annotator"}, format="json"
    )
    assert added.status_code == 201
    assert lead.delete(f"/api/studies/matrix/members/{world.users['outsider'].pk}/").status_code == 204
    found = actions(world)
    for action in (
        "case.submit",
        "job.cancel",
        "job.create",
        "model.rollback",
        "model.promote",
        "membership.add",
        "membership.remove",
        "series.ingest",
    ):
        assert action in found, action
    cancel = AuditEntry.objects.get(action="job.cancel")
    assert cancel.before["state"] == "queued" and cancel.after["state"] == "cancelled"
    assert cancel.actor == world.users["ml_engineer"]
    rollback = AuditEntry.objects.get(action="model.rollback")
    assert rollback.before == {"promoted": 2} and rollback.after == {"promoted": 1}
    submit = AuditEntry.objects.get(action="case.submit")
    assert submit.before == {"status": "open"} and submit.after["status"] == "in_progress"  # 1 of 3 reads


def test_token_creation_and_revocation_are_audited(world):
    client = token_client(world, "annotator2")
    created = client.post("/api/tokens/", {"name": "ci"}, format="json").json()
    assert client.delete(f"/api/tokens/{created['id']}/").status_code == 204
    entries = AuditEntry.objects.filter(object_type="ApiToken", object_id=str(created["id"])).order_by("id")
    assert [e.action for e in entries] == ["token.create", "token.revoke"]
    assert entries[1].before["revoked_at"] is None and entries[1].after["revoked_at"]
    assert created["key"] not in str(entries[0].after)


def test_the_audit_api_filters_by_user_action_and_date_and_pages(world):
    lead = token_client(world, "study_lead")
    body = lead.get("/api/studies/matrix/audit/?action=annotation.&user=m-ann").json()
    assert body["count"] == 1 and body["results"][0]["action"] == "annotation.create"
    assert body["results"][0]["user"] == "m-ann" and body["results"][0]["after"]["version"] == 1
    everything = lead.get("/api/studies/matrix/audit/").json()
    assert everything["count"] == AuditEntry.objects.filter(study=world.study).count() >= 5
    page = lead.get("/api/studies/matrix/audit/?limit=2&offset=1").json()
    assert len(page["results"]) == 2 and page["results"][0]["id"] == everything["results"][1]["id"]
    assert lead.get("/api/studies/matrix/audit/?since=2999-01-01").json()["count"] == 0
    bad = lead.get("/api/studies/matrix/audit/?since=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["detail"]


def test_the_audit_page_lists_filters_and_is_linked_for_leads_only(world, client):
    client.force_login(world.users["study_lead"])
    page = client.get("/studies/matrix/audit/?action=annotation.create")
    assert page.status_code == 200
    assert (
        b'data-action="annotation.create"' in page.content
        and b'data-action="series.ingest"' not in page.content
    )
    assert b'data-testid="audit-link"' in client.get("/studies/matrix/").content
    assert client.get("/studies/matrix/audit/?until=nope").status_code == 400
    client.force_login(world.users["annotator"])
    assert b'data-testid="audit-link"' not in client.get("/studies/matrix/").content
    assert client.get("/studies/matrix/audit/").status_code == 403


def test_the_case_history_shows_every_version_and_hides_other_readers_in_blind_studies(world, client):
    annotator = token_client(world, "annotator")
    url = f"/api/annotations/{world.annotation.pk}/"
    data = {"structure": "lv_endo", "slice": 0, "phase": 0, "points": MOVED}
    assert annotator.put(url, {"data": data, "version": 1}, format="json").status_code == 200
    rows = token_client(world, "study_lead").get(f"/api/cases/{world.case.pk}/history/").json()
    assert [(r["version"], r["user"], r["change"]) for r in rows] == [
        (1, "m-ann", "created: lv_endo slice 0 phase 0, 4 points (freehand)"),
        (2, "m-ann", "points moved"),
    ]
    assert token_client(world, "annotator2").get(f"/api/cases/{world.case.pk}/history/").json() == []
    client.force_login(world.users["annotator"])
    page = client.get(f"/cases/{world.case.pk}/history/")
    assert page.status_code == 200 and b"points moved" in page.content and b'data-version="2"' in page.content
    assert b'data-testid="history-link"' in client.get(f"/cases/{world.case.pk}/").content
