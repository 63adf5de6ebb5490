"""Jobs: enqueue after commit, claim atomically, report progress, honour cancellation, record the end."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from atrium.learning.models import FINISHED_STATES, Job, JobKind, JobState

logger = logging.getLogger(__name__)


def stale_after() -> timedelta:
    """A running job whose heartbeat is older than this lost its worker and may be taken again."""
    from django.conf import settings

    return timedelta(seconds=getattr(settings, "ATRIUM_JOB_STALE_S", 60))


def max_attempts() -> int:
    """How many times a job may be started; a job whose workers died that often fails with the reason."""
    from django.conf import settings

    return int(getattr(settings, "ATRIUM_JOB_MAX_ATTEMPTS", 3))


def heartbeat_interval() -> float:
    from django.conf import settings

    return float(getattr(settings, "ATRIUM_JOB_HEARTBEAT_S", 10))


class JobCancelled(Exception):
    pass


class JobReporter:
    """Handed to job handlers: progress updates (persisted and pushed live) and cancellation checks."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def progress(self, fraction: float, message: str = "", **detail: Any) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = timezone.now()
        updated = Job.objects.filter(pk=self.job.pk, state=JobState.RUNNING).update(
            progress=fraction, message=message[:500], progress_detail=detail, heartbeat_at=now
        )
        self.job.progress, self.job.message, self.job.progress_detail = fraction, message, detail
        _push_job(self.job)
        if not updated or Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled(f"job {self.job.pk} was cancelled")

    def should_stop(self) -> bool:
        return Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()


Handler = Callable[[Job, JobReporter], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def register_handler(kind: str) -> Callable[[Handler], Handler]:
    def decorator(func: Handler) -> Handler:
        HANDLERS[kind] = func
        return func

    return decorator


def _push_job(job: Job) -> None:
    from annotation_ui.groups import job_group, push

    push(
        job_group(job.pk),
        "job.progress",
        {
            "job": job.pk,
            "kind": job.kind,
            "state": job.state,
            "progress": job.progress,
            "message": job.message,
            "detail": job.progress_detail,
        },
    )


def enqueue_job(
    *, kind: str, params: dict[str, Any] | None = None, study: Any = None, created_by: Any = None
) -> Job:
    """Create a job and queue it on its queue once the surrounding transaction commits."""
    if kind not in JobKind.values:
        raise ValueError(f"unknown job kind {kind!r}; expected one of {', '.join(JobKind.values)}")
    from atrium.accounts.services import record_audit

    with transaction.atomic():
        job = Job.objects.create(kind=kind, params=params or {}, study=study, created_by=created_by)
        record_audit(
            actor=created_by,
            action="job.create",
            obj=job,
            study=study,
            after={"kind": kind, "state": job.state, "params": job.params},
        )
        transaction.on_commit(lambda: dispatch(job))
    return job


def dispatch(job: Job) -> None:
    """Send the job's message. For a queued job, heartbeat_at records when it was last sent."""
    from atrium.learning.tasks import run_cpu_job, run_gpu_job

    Job.objects.filter(pk=job.pk, state=JobState.QUEUED).update(heartbeat_at=timezone.now())
    task = run_gpu_job if job.queue == "gpu" else run_cpu_job
    task.apply_async(args=[job.pk], queue=job.queue)


def claim_job(job_id: int) -> Job | None:
    """Move a queued (or abandoned running) job to running. Returns None if someone else has it."""
    now = timezone.now()
    claimable = Q(state=JobState.QUEUED) | Q(
        state=JobState.RUNNING, heartbeat_at__lt=now - stale_after(), attempts__lt=max_attempts()
    )
    updated = Job.objects.filter(claimable, pk=job_id, cancel_requested=False).update(
        state=JobState.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1, error=""
    )
    if not updated:
        return None
    return Job.objects.get(pk=job_id)


def _finish(job: Job, state: str, *, result: dict[str, Any] | None = None, error: str = "") -> None:
    Job.objects.filter(pk=job.pk).exclude(state__in=FINISHED_STATES).update(
        state=state,
        finished_at=timezone.now(),
        result=result or {},
        error=error,
        progress=1.0 if state == JobState.SUCCEEDED else F("progress"),
    )
    job.refresh_from_db()
    _push_job(job)


def run_job(job_id: int) -> str:
    """Run a job to its end in this process. Returns the final state (or 'skipped' if not claimed)."""
    job = claim_job(job_id)
    if job is None:
        state = Job.objects.filter(pk=job_id).values_list("state", flat=True).first()
        logger.info("job %s not claimed (state %s)", job_id, state)
        return "skipped"
    handler = HANDLERS.get(job.kind)
    if handler is None:
        _finish(job, JobState.FAILED, error=f"no handler for job kind {job.kind!r}")
        return JobState.FAILED
    reporter = JobReporter(job)
    _push_job(job)
    beating = _Heartbeat(job.pk)
    beating.start()
    try:
        result = handler(job, reporter)
    except JobCancelled:
        _finish(job, JobState.CANCELLED, error="cancelled by user")
        return JobState.CANCELLED
    except Exception as exc:
        logger.exception("job %s failed", job.pk)
        _finish(job, JobState.FAILED, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
        return JobState.FAILED
    finally:
        beating.stop()
    _finish(job, JobState.SUCCEEDED, result=result)
    return JobState.SUCCEEDED


class _Heartbeat:
    """Touch the job's heartbeat from a thread while its handler runs, so a long step without progress
    reports is not mistaken for a dead worker, and a dead worker's job is recognised once it goes quiet."""

    def __init__(self, job_id: int) -> None:
        import threading

        self.job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(heartbeat_interval()):
                try:
                    Job.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a missed beat only makes the job look idle for a while
                    logger.warning("heartbeat of job %s failed", self.job_id, exc_info=True)
        finally:
            connection.close()


def requeue_lost_jobs(*, queued_older_than: timedelta | None = None) -> list[int]:
    """Dispatch again every running job whose worker went quiet, and every queued job last sent longer ago
    than `queued_older_than` (its message may have been lost with a broker restart; default
    ATRIUM_JOB_REQUEUE_S). Claiming is conditional, so a duplicate message runs nothing, and a queued job is
    re-sent at most once per period, so a long backlog does not multiply its messages."""
    from django.conf import settings

    now = timezone.now()
    if queued_older_than is None:
        queued_older_than = timedelta(seconds=getattr(settings, "ATRIUM_JOB_REQUEUE_S", 600))
    waiting_too_long = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - queued_older_than)
    lost = Job.objects.filter(
        (Q(state=JobState.QUEUED, cancel_requested=False) & waiting_too_long)
        | Q(state=JobState.RUNNING, heartbeat_at__lt=now - stale_after())
    )
    ids = []
    for job in lost:
        if job.state == JobState.RUNNING and job.attempts >= max_attempts():
            # Each attempt died with its worker (killed, out of memory, node lost): stop retrying, say why.
            _finish(
                job,
                JobState.FAILED,
                error=f"the worker running this job was lost {job.attempts} times "
                f"(ATRIUM_JOB_MAX_ATTEMPTS={max_attempts()}); not retried again",
            )
            logger.error("job %s failed after %s lost attempts", job.pk, job.attempts)
            continue
        dispatch(job)
        ids.append(job.pk)
    if ids:
        logger.warning("re-dispatched jobs %s (lost messages or dead workers)", ids)
    return ids


def cancel_job(*, job: Job, actor: Any = None) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops at its next progress report."""
    from atrium.accounts.services import record_audit

    with transaction.atomic():
        before = Job.objects.filter(pk=job.pk).values("state", "cancel_requested").first()
        Job.objects.filter(pk=job.pk).exclude(state__in=FINISHED_STATES).update(cancel_requested=True)
        Job.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=JobState.CANCELLED, finished_at=timezone.now(), error="cancelled before it started"
        )
        after = Job.objects.filter(pk=job.pk).values("state", "cancel_requested").first()
        if before != after:
            record_audit(
                actor=actor, action="job.cancel", obj=job, study=job.study, before=before, after=after
            )
    job.refresh_from_db()
    _push_job(job)
    return job
