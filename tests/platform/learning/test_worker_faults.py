"""A worker killed mid-training: the job is taken up again by the next worker, resumes from its last
checkpoint and finishes once, with one registered model. Runs after test_jobs.py and kills the session's
worker on purpose."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from atrium.learning.models import Job, JobState, ModelVersion
from atrium.learning.services import enqueue_job
from tests.conftest import start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_job_whose_worker_dies_is_resumed_by_the_next_worker(celery_worker_process, tmp_path, settings):
    from atrium.imaging.demo_data import attach_demo_ground_truth, make_demo_data
    from atrium.imaging.services import ingest_sources
    from atrium.imaging.sources import iter_sources
    from atrium.studies.models import Study

    make_demo_data(tmp_path, seed=21, n_cardiac=2, n_ultrasound=0, size=48)
    study = Study.objects.create(slug="fault-study", name="Fault study", task_kind="cardiac")
    assert not ingest_sources(study=study, sources=iter_sources(tmp_path / "cardiac")).errors
    attach_demo_ground_truth(study=study, root=tmp_path)

    job = enqueue_job(
        kind="train",
        study=study,
        params={
            "source": "reference",
            "size": "tiny",
            # Long enough that the job is still running when the test sees its first checkpoint, even on a
            # loaded machine; the second attempt spends only what is left of it.
            "max_seconds": 15,
            "infer_after": False,
            "batch_size": 4,
            "checkpoint_every": 5,
        },
    )
    checkpoint = Path(settings.MEDIA_ROOT) / "jobs" / str(job.pk) / "checkpoint.pt"
    running = wait_for(
        lambda: checkpoint.exists() and Job.objects.filter(pk=job.pk, state=JobState.RUNNING).first(), 90
    )
    assert running, Job.objects.get(pk=job.pk).state
    celery_worker_process.send_signal(signal.SIGKILL)  # no chance to clean up
    celery_worker_process.wait(timeout=10)
    assert Job.objects.get(pk=job.pk).state == JobState.RUNNING

    # The previous heartbeat goes stale after ATRIUM_JOB_STALE_S; the new worker's sweep re-dispatches it.
    second = start_worker(
        "second", {"ATRIUM_JOB_STALE_S": "3", "ATRIUM_JOB_SWEEP_S": "2", "ATRIUM_JOB_HEARTBEAT_S": "1"}
    )
    try:
        done = wait_for(lambda: Job.objects.filter(pk=job.pk, state__in=["succeeded", "failed"]).first(), 120)
    finally:
        stop_worker(second)
    assert done is not None and done.state == JobState.SUCCEEDED, (
        done and done.error,
        second.log_path.read_text()[-2000:],
    )
    assert done.attempts == 2
    # The second attempt continued from the first one's checkpoint, not from scratch.
    assert done.result["resumed_from_step"] >= 5
    assert done.result["resumed_from_step"] % 5 == 0
    version = ModelVersion.objects.get(study=study)
    assert version.config["resumed_from_step"] == done.result["resumed_from_step"]
    assert version.config["steps"] > done.result["resumed_from_step"]
    assert version.config["job"] == job.pk
    assert not checkpoint.exists()  # cleaned up once the model is registered
