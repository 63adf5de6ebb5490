"""What a save locks and links: only the annotation row, and each new version's parent is the one before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from atrium.annotations.models import AnnotationVersion
from atrium.annotations.services import create_annotation, delete_annotation, update_annotation
from tests.factories import CaseFactory, SeriesFactory

SQUARE = [[2, 2], [10, 2], [10, 10], [2, 10]]


def contour(x: int = 0) -> dict[str, object]:
    points = [[px + x, py] for px, py in SQUARE]
    return {"structure": "lv_endo", "slice": 0, "phase": 0, "points": points, "mode": "freehand"}


@pytest.fixture
def case(study):
    return CaseFactory(study=study, series=SeriesFactory(shape=[1, 1, 16, 16]))


@pytest.mark.django_db
def test_edits_and_a_delete_chain_each_version_to_its_parent(people, case):
    annotation = create_annotation(case=case, author=people.annotator, kind="contour", data=contour())
    annotation = update_annotation(
        annotation=annotation, author=people.annotator, data=contour(1), expected_version=1
    )
    annotation = update_annotation(
        annotation=annotation, author=people.annotator, data=contour(2), expected_version=2
    )
    delete_annotation(annotation=annotation, author=people.annotator, expected_version=3)
    chain = [
        (v.number, v.parent.number if v.parent else None, v.deleted, v.data["points"][0][0])
        for v in AnnotationVersion.objects.filter(annotation=annotation).order_by("number")
    ]
    assert chain == [(1, None, False, 2), (2, 1, False, 3), (3, 2, False, 4), (4, 3, True, 4)]


@pytest.mark.django_db
def test_a_save_locks_the_annotation_row_and_not_its_case_study_or_author(people, case):
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SELECT ... FOR UPDATE) exist on PostgreSQL only")
    annotation = create_annotation(case=case, author=people.annotator, kind="contour", data=contour())
    with CaptureQueriesContext(connection) as queries:
        update_annotation(annotation=annotation, author=people.annotator, data=contour(1), expected_version=1)
    locking = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert len(locking) == 1
    assert locking[0].rstrip().endswith('FOR UPDATE OF "annotations_annotation"')
