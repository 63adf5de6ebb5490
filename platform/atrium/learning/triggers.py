"""Automatic retraining: after N newly submitted cases, when the study asks for it."""

from __future__ import annotations

from typing import Any

from atrium.learning.models import Job, JobKind, JobState


def submissions_since_last_training(study: Any) -> int:
    from atrium.studies.models import Assignment, AssignmentStatus

    last = (
        Job.objects.filter(study=study, kind=JobKind.TRAIN)
        .exclude(state=JobState.CANCELLED)
        .order_by("-created_at")
        .first()
    )
    submitted = Assignment.objects.filter(case__study=study, status=AssignmentStatus.SUBMITTED)
    if last is not None:
        submitted = submitted.filter(submitted_at__gt=last.created_at)
    return submitted.values("case").distinct().count()


def maybe_retrain(*, study: Any) -> Job | None:
    """Queue a training job when the study's retrain threshold is reached and none is queued or running."""
    from atrium.learning.services import enqueue_job

    threshold = study.retrain_after_n_submissions
    if not threshold:
        return None
    if Job.objects.filter(
        study=study, kind=JobKind.TRAIN, state__in=[JobState.QUEUED, JobState.RUNNING]
    ).exists():
        return None
    if submissions_since_last_training(study) < threshold:
        return None
    params: dict[str, Any] = {"trigger": "auto", "max_seconds": 120}
    arch = _serving_arch(study)
    if arch is not None:
        params["arch"] = arch  # retraining keeps the architecture the study serves
    return enqueue_job(kind=JobKind.TRAIN, study=study, params=params)


def _serving_arch(study: Any) -> str | None:
    from atrium.learning.models import ModelFamily
    from atrium.learning.registry import promoted_version

    version = promoted_version(study, ModelFamily.SEGMENTATION)
    return version.config.get("arch") if version is not None else None
