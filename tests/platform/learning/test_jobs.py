"""Jobs run in a real Celery worker process: claimed once, progress recorded, cancellable."""

from __future__ import annotations

import pytest

from atrium.learning.models import Job, JobState
from atrium.learning.services import claim_job, enqueue_job, register_handler, run_job
from tests.conftest import wait_for


@pytest.fixture
def demo_dicom(tmp_path_factory):
    from atrium.imaging.demo_data import make_demo_data

    root = tmp_path_factory.mktemp("demo")
    make_demo_data(root, seed=3, n_cardiac=1, n_ultrasound=1, size=48)
    return root


def test_a_job_is_claimed_only_once(db, study):
    job = Job.objects.create(kind="report", study=study)
    assert claim_job(job.pk) is not None
    assert claim_job(job.pk) is None
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.attempts == 1


def test_a_job_without_a_handler_fails_with_a_reason(db, study, monkeypatch):
    from atrium.learning import services

    monkeypatch.setattr(services, "HANDLERS", {})
    job = Job.objects.create(kind="report", study=study)
    assert run_job(job.pk) == JobState.FAILED
    job.refresh_from_db()
    assert "no handler for job kind 'report'" in job.error


def test_a_failing_handler_records_its_error(db, study, monkeypatch):
    from atrium.learning import services

    monkeypatch.setattr(services, "HANDLERS", dict(services.HANDLERS))

    @register_handler("report")
    def explode(job, reporter):
        raise RuntimeError("disk on fire")

    job = Job.objects.create(kind="report", study=study)
    assert run_job(job.pk) == JobState.FAILED
    job.refresh_from_db()
    assert job.error.startswith("RuntimeError: disk on fire")
    assert job.finished_at is not None


def test_a_running_job_stops_at_its_next_progress_report_when_cancelled(db, study, monkeypatch):
    from atrium.learning import services

    monkeypatch.setattr(services, "HANDLERS", dict(services.HANDLERS))
    seen = []

    @register_handler("report")
    def long_job(job, reporter):
        for step in range(10):
            if step == 3:
                Job.objects.filter(pk=job.pk).update(cancel_requested=True)
            reporter.progress(step / 10, f"step {step}")
            seen.append(step)
        return {}

    job = Job.objects.create(kind="report", study=study)
    assert run_job(job.pk) == JobState.CANCELLED
    assert seen == [0, 1, 2]


def test_a_queued_job_cancelled_from_the_api_never_runs(people, study, api_client):
    job = Job.objects.create(kind="train", study=study, created_by=people.ml_engineer)
    response = api_client(people.ml_engineer).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert claim_job(job.pk) is None


def test_annotators_cannot_start_jobs(people, study, api_client):
    response = api_client(people.annotator).post(
        "/api/jobs/", {"kind": "train", "study": study.slug}, format="json"
    )
    assert response.status_code == 403


def test_ingest_jobs_cannot_be_started_over_the_api_with_a_server_path(people, study, api_client):
    response = api_client(people.ml_engineer).post(
        "/api/jobs/", {"kind": "ingest", "study": study.slug, "params": {"path": "/etc"}}, format="json"
    )
    assert response.status_code == 400
    assert "kind" in response.json()["detail"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_ingest_job_runs_in_a_real_worker_process(celery_worker_process, demo_dicom):
    from atrium.imaging.models import Series
    from atrium.studies.models import Study

    study = Study.objects.create(slug="worker-study", name="Worker study", task_kind="cardiac")
    job = enqueue_job(kind="ingest", study=study, params={"path": str(demo_dicom)})
    finished = wait_for(
        lambda: Job.objects.filter(pk=job.pk, state__in=["succeeded", "failed"]).first(), timeout=90
    )
    assert finished is not None, f"job still {Job.objects.get(pk=job.pk).state}"
    assert finished.state == JobState.SUCCEEDED, finished.error
    assert finished.progress == 1.0 and finished.attempts == 1
    assert len(finished.result["series_created"]) == 2 and finished.result["errors"] == []
    assert Series.objects.filter(cases__study=study).count() == 2


def test_lost_jobs_are_re_sent_but_a_waiting_backlog_is_not_multiplied(db, study, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from atrium.learning import services

    sent = []
    monkeypatch.setattr(services, "dispatch", lambda job: sent.append(job.pk))
    now = timezone.now()
    fresh = Job.objects.create(kind="report", study=study, heartbeat_at=now)
    forgotten = Job.objects.create(kind="report", study=study, heartbeat_at=now - timedelta(hours=1))
    dead = Job.objects.create(
        kind="train", study=study, state="running", heartbeat_at=now - timedelta(hours=1)
    )
    alive = Job.objects.create(kind="train", study=study, state="running", heartbeat_at=now)
    assert sorted(services.requeue_lost_jobs()) == sorted([forgotten.pk, dead.pk])
    assert fresh.pk not in sent and alive.pk not in sent


def test_a_job_whose_workers_keep_dying_fails_with_the_reason_after_its_attempts(db, study, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from atrium.learning import services

    sent = []
    monkeypatch.setattr(services, "dispatch", lambda job: sent.append(job.pk))
    monkeypatch.setattr(services, "_push_job", lambda job: None)
    stale = timezone.now() - timedelta(hours=1)
    again = Job.objects.create(kind="train", study=study, state="running", heartbeat_at=stale, attempts=2)
    spent = Job.objects.create(kind="train", study=study, state="running", heartbeat_at=stale, attempts=3)
    assert services.requeue_lost_jobs() == [again.pk]
    assert sent == [again.pk]
    spent.refresh_from_db()
    assert spent.state == JobState.FAILED
    assert "lost 3 times" in spent.error and "ATRIUM_JOB_MAX_ATTEMPTS=3" in spent.error
    assert claim_job(spent.pk) is None  # never taken up again
    assert claim_job(again.pk) is not None  # the third and last attempt
    again.refresh_from_db()
    assert again.attempts == 3
