"""Reads about jobs, model versions and queues."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atrium.learning.models import Job, ModelVersion
from atrium.studies.selectors import studies_visible_to


def jobs_visible_to(user: Any) -> QuerySet[Job]:
    if not user.is_authenticated:
        return Job.objects.none()
    if user.is_platform_admin:
        return Job.objects.all()
    return Job.objects.filter(study__in=studies_visible_to(user)) | Job.objects.filter(created_by=user)


def model_versions_visible_to(user: Any) -> QuerySet[ModelVersion]:
    if user.is_platform_admin:
        return ModelVersion.objects.all()
    return ModelVersion.objects.filter(study__in=studies_visible_to(user))
