"""The annotation list endpoint sends each row's stored data as it is, and says what a single read would."""

from __future__ import annotations

import pytest

from atrium.annotations.models import Annotation
from atrium.annotations.services import annotation_payload, create_annotation, delete_annotation
from tests.factories import CaseFactory, SeriesFactory


@pytest.fixture
def case(study):
    return CaseFactory(study=study, series=SeriesFactory(shape=[2, 3, 16, 16]))


def contour(structure: str, phase: int, points: list[list[float]]) -> dict[str, object]:
    return {"structure": structure, "slice": 1, "phase": phase, "points": points, "mode": "spline"}


def test_the_list_equals_the_payload_of_each_visible_annotation_in_id_order(people, case, api_client):
    mine = create_annotation(
        case=case,
        author=people.annotator,
        kind="contour",
        data=contour("lv_endo", 0, [[1, 1], [5.25, 1], [3, 4.5]]),
    )
    create_annotation(case=case, author=people.annotator, kind="phases", data={"ed_phase": 0, "es_phase": 2})
    theirs = create_annotation(
        case=case,
        author=people.annotator2,
        kind="contour",
        data=contour("rv_endo", 2, [[2, 2], [9, 2], [9, 9]]),
    )
    gone = create_annotation(
        case=case,
        author=people.annotator,
        kind="contour",
        data=contour("lv_epi", 1, [[0, 0], [6, 0], [6, 6]]),
    )
    delete_annotation(annotation=gone, author=people.annotator, expected_version=1)

    response = api_client(people.study_lead).get(f"/api/cases/{case.pk}/annotations/")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    expected = [
        annotation_payload(a) for a in Annotation.objects.filter(case=case, deleted=False).order_by("id")
    ]
    assert response.json() == expected
    assert [a["id"] for a in response.json()] == sorted([mine.pk, theirs.pk, mine.pk + 1])
    assert response.json()[0]["data"]["points"] == [[1.0, 1.0], [5.25, 1.0], [3.0, 4.5]]


def test_an_empty_case_lists_as_an_empty_array(people, case, api_client):
    response = api_client(people.annotator).get(f"/api/cases/{case.pk}/annotations/")
    assert response.status_code == 200 and response.json() == []
