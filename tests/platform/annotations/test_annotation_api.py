"""Annotation endpoints: versioned saves, conflicts, validation and blind reading."""

from __future__ import annotations

import pytest

from atrium.annotations.models import AnnotationVersion, ImmutableVersionError
from tests.factories import CaseFactory, SeriesFactory

SQUARE = [[2, 2], [10, 2], [10, 10], [2, 10]]


@pytest.fixture
def case(study):
    return CaseFactory(study=study, series=SeriesFactory(shape=[2, 3, 16, 16]))


def contour(**overrides):
    data = {"structure": "lv_endo", "slice": 1, "phase": 2, "points": SQUARE, "mode": "freehand"}
    data.update(overrides)
    return {"kind": "contour", "data": data}


def test_an_annotator_saves_a_contour_and_reads_it_back(people, case, api_client):
    client = api_client(people.annotator)
    created = client.post(f"/api/cases/{case.pk}/annotations/", contour(), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["version"] == 1 and body["data"]["points"] == [
        [2.0, 2.0],
        [10.0, 2.0],
        [10.0, 10.0],
        [2.0, 10.0],
    ]
    listed = client.get(f"/api/cases/{case.pk}/annotations/").json()
    assert [a["id"] for a in listed] == [body["id"]]


def test_an_edit_creates_a_new_version_and_keeps_the_old_one(people, case, api_client):
    client = api_client(people.annotator)
    first = client.post(f"/api/cases/{case.pk}/annotations/", contour(), format="json").json()
    moved = [[x + 1, y] for x, y in SQUARE]
    second = client.put(
        f"/api/annotations/{first['id']}/",
        {"data": contour(points=moved)["data"], "version": 1},
        format="json",
    )
    assert second.status_code == 200, second.content
    assert second.json()["version"] == 2
    history = client.get(f"/api/annotations/{first['id']}/versions/").json()
    assert [(v["number"], v["parent"]) for v in history] == [(1, None), (2, 1)]
    assert history[0]["data"]["points"][0] == [2.0, 2.0] and history[1]["data"]["points"][0] == [3.0, 2.0]


def test_a_save_based_on_a_stale_version_is_a_409_and_overwrites_nothing(people, case, api_client):
    client = api_client(people.annotator)
    created = client.post(f"/api/cases/{case.pk}/annotations/", contour(), format="json").json()
    url = f"/api/annotations/{created['id']}/"
    assert (
        client.put(
            url, {"data": contour(points=[[1, 1], [5, 1], [5, 5]])["data"], "version": 1}, format="json"
        ).status_code
        == 200
    )
    stale = client.put(
        url, {"data": contour(points=[[0, 0], [9, 0], [9, 9]])["data"], "version": 1}, format="json"
    )
    assert stale.status_code == 409
    assert "version 2" in stale.json()["detail"]
    assert stale.json()["current"]["data"]["points"] == [[1.0, 1.0], [5.0, 1.0], [5.0, 5.0]]
    assert AnnotationVersion.objects.filter(annotation_id=created["id"]).count() == 2


def test_deleting_is_a_new_version_and_hides_the_annotation(people, case, api_client):
    client = api_client(people.annotator)
    created = client.post(f"/api/cases/{case.pk}/annotations/", contour(), format="json").json()
    assert client.delete(f"/api/annotations/{created['id']}/?version=1").status_code == 204
    assert client.get(f"/api/cases/{case.pk}/annotations/").json() == []
    assert AnnotationVersion.objects.get(annotation_id=created["id"], number=2).deleted


def test_versions_are_immutable_in_the_database(people, case, api_client):
    created = (
        api_client(people.annotator)
        .post(f"/api/cases/{case.pk}/annotations/", contour(), format="json")
        .json()
    )
    version = AnnotationVersion.objects.get(annotation_id=created["id"], number=1)
    version.data = {"tampered": True}
    with pytest.raises(ImmutableVersionError):
        version.save()
    with pytest.raises(ImmutableVersionError):
        version.delete()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (contour(structure="aorta"), "structure must be one of"),
        (contour(slice=5), "slice=5 is outside 0..1"),
        (contour(points=[[1, 1], [2, 2]]), "at least 3 points"),
        (contour(points=[[1, 1], [2, 2], [200, 3]]), "outside the 16x16 image"),
        (contour(points=[[1, 1], [2, "x"], [3, 3]]), "two finite numbers"),
        (contour(points=[[1, 1]] * 5000), "at most 4000 points"),
        (
            {"kind": "plane_label", "data": {"plane": "4CH", "frame_start": 0, "frame_stop": 1}},
            "ultrasound clip",
        ),
        ({"kind": "scribble", "data": {}}, "kind"),
        ({"kind": "contour", "data": "not an object"}, "data must be a JSON object"),
    ],
)
def test_bad_annotation_payloads_get_a_400_naming_the_problem(people, case, api_client, payload, message):
    response = api_client(people.annotator).post(f"/api/cases/{case.pk}/annotations/", payload, format="json")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert case.annotations.count() == 0


def test_malformed_json_is_a_400(people, case, api_client):
    response = api_client(people.annotator).post(
        f"/api/cases/{case.pk}/annotations/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_only_the_author_may_edit_an_annotation(people, case, api_client):
    created = (
        api_client(people.annotator)
        .post(f"/api/cases/{case.pk}/annotations/", contour(), format="json")
        .json()
    )
    response = api_client(people.annotator2).put(
        f"/api/annotations/{created['id']}/", {"data": contour()["data"], "version": 1}, format="json"
    )
    assert response.status_code == 403


def test_a_non_member_cannot_see_or_annotate_the_case(people, case, api_client):
    client = api_client(people.outsider)
    assert client.get(f"/api/cases/{case.pk}/annotations/").status_code == 404
    assert client.post(f"/api/cases/{case.pk}/annotations/", contour(), format="json").status_code == 404


def test_blind_reading_hides_other_observers_annotations(people, case, api_client, study):
    study.blind = True
    study.save()
    created = (
        api_client(people.annotator)
        .post(f"/api/cases/{case.pk}/annotations/", contour(), format="json")
        .json()
    )
    other = api_client(people.annotator2)
    assert other.get(f"/api/cases/{case.pk}/annotations/").json() == []
    assert other.get(f"/api/annotations/{created['id']}/").status_code == 404
    assert other.get(f"/api/annotations/{created['id']}/versions/").status_code == 404
    # The study lead sees every read.
    assert len(api_client(people.study_lead).get(f"/api/cases/{case.pk}/annotations/").json()) == 1


def test_an_open_study_shows_every_observers_annotations(people, case, api_client):
    api_client(people.annotator).post(f"/api/cases/{case.pk}/annotations/", contour(), format="json")
    assert len(api_client(people.annotator2).get(f"/api/cases/{case.pk}/annotations/").json()) == 1


def test_phases_are_the_observers_own_and_update_in_place(people, case, api_client):
    client = api_client(people.annotator)
    first = client.patch(f"/api/cases/{case.pk}/phases/", {"ed_phase": 0}, format="json")
    assert first.status_code == 200 and first.json()["data"] == {"ed_phase": 0, "es_phase": None}
    second = client.patch(f"/api/cases/{case.pk}/phases/", {"es_phase": 2}, format="json").json()
    assert second["id"] == first.json()["id"] and second["version"] == 2
    assert second["data"] == {"ed_phase": 0, "es_phase": 2}
    assert client.patch(f"/api/cases/{case.pk}/phases/", {"es_phase": 3}, format="json").status_code == 400


def test_every_write_is_audited_with_before_and_after(people, case, api_client):
    from atrium.accounts.models import AuditEntry

    client = api_client(people.annotator)
    created = client.post(f"/api/cases/{case.pk}/annotations/", contour(), format="json").json()
    client.put(
        f"/api/annotations/{created['id']}/", {"data": contour(slice=0)["data"], "version": 1}, format="json"
    )
    entries = list(AuditEntry.objects.filter(object_type="Annotation").order_by("id"))
    assert [e.action for e in entries] == ["annotation.create", "annotation.update"]
    assert entries[1].before["version"] == 1 and entries[1].after["version"] == 2
    assert entries[1].actor == people.annotator
