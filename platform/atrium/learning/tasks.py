"""Thin Celery tasks: take a job id and call the service. Queues: gpu (train/infer/reconstruct), cpu."""

from __future__ import annotations

from celery import shared_task

from atrium.learning import (
    handlers,  # noqa: F401 - registers the job handlers
    simulation_jobs,  # noqa: F401 - registers the simulate handler
)
from atrium.learning.services import run_job


@shared_task(name="atrium.learning.tasks.run_cpu_job", acks_late=True, max_retries=3, default_retry_delay=10)
def run_cpu_job(job_id: int) -> str:
    return run_job(job_id)


@shared_task(name="atrium.learning.tasks.run_gpu_job", acks_late=True, max_retries=3, default_retry_delay=10)
def run_gpu_job(job_id: int) -> str:
    return run_job(job_id)
