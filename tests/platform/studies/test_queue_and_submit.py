"""Next-case assignment and submission honour reads per case and the queue's priorities."""

from __future__ import annotations

import threading

import pytest

from atrium.learning.models import QueueItem
from atrium.studies.models import Assignment, CaseStatus
from tests.factories import CaseFactory, SeriesFactory


@pytest.fixture
def cases(study):
    return [CaseFactory(study=study, series=SeriesFactory()) for _ in range(3)]


def test_the_next_case_follows_the_queue_priority(people, study, cases, api_client):
    QueueItem.objects.create(study=study, case=cases[2], priority=0.9)
    QueueItem.objects.create(study=study, case=cases[0], priority=0.1)
    response = api_client(people.annotator).get("/api/queue/next/")
    assert response.status_code == 200
    assert response.json()["case_id"] == cases[2].pk


def test_an_unfinished_assignment_comes_back_first(people, study, cases, api_client):
    client = api_client(people.annotator)
    first = client.get("/api/queue/next/").json()["case_id"]
    assert client.get("/api/queue/next/").json()["case_id"] == first


def test_a_case_is_never_handed_to_more_readers_than_reads_per_case(people, study, api_client):
    study.reads_per_case = 1
    study.save()
    only = CaseFactory(study=study, series=SeriesFactory())
    assert api_client(people.annotator).get("/api/queue/next/").json()["case_id"] == only.pk
    assert api_client(people.annotator2).get("/api/queue/next/").status_code == 204


def test_two_reads_per_case_go_to_two_different_readers(people, study, api_client):
    study.reads_per_case = 2
    study.save()
    only = CaseFactory(study=study, series=SeriesFactory())
    assert api_client(people.annotator).get("/api/queue/next/").json()["case_id"] == only.pk
    assert api_client(people.annotator2).get("/api/queue/next/").json()["case_id"] == only.pk
    assert api_client(people.study_lead).get("/api/queue/next/").status_code == 204
    assert Assignment.objects.filter(case=only).count() == 2


@pytest.mark.django_db(transaction=True)
def test_racing_readers_never_exceed_reads_per_case(people, study):
    from django.db import connection

    from atrium.studies.services import next_case_for

    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs row locks (PostgreSQL)")
    study.reads_per_case = 1
    study.save()
    only = CaseFactory(study=study, series=SeriesFactory())
    results = []
    barrier = threading.Barrier(4)

    def grab(user):
        barrier.wait()
        try:
            results.append(next_case_for(user=user))
        finally:
            connection.close()

    readers = [people.annotator, people.annotator2, people.study_lead, people.ml_engineer]
    threads = [threading.Thread(target=grab, args=(u,)) for u in readers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if r is not None and r.pk == only.pk) == 1
    assert Assignment.objects.filter(case=only).count() == 1


def test_submitting_completes_a_case_after_enough_reads(people, study, api_client):
    study.reads_per_case = 2
    study.save()
    case = CaseFactory(study=study, series=SeriesFactory())
    assert (
        api_client(people.annotator).post(f"/api/cases/{case.pk}/submit/").json()["status"]
        == CaseStatus.IN_PROGRESS
    )
    assert (
        api_client(people.annotator2).post(f"/api/cases/{case.pk}/submit/").json()["status"]
        == CaseStatus.COMPLETE
    )
    # A complete case is out of everybody's queue.
    assert api_client(people.study_lead).get("/api/queue/next/").status_code == 204


def test_submitting_someone_elses_study_case_is_a_404(people, study, api_client):
    case = CaseFactory(study=study, series=SeriesFactory())
    assert api_client(people.outsider).post(f"/api/cases/{case.pk}/submit/").status_code == 404
