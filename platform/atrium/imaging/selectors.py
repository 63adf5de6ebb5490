"""Reads about imaging objects, always filtered by what the user may see (a case of the series)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atrium.imaging.models import ImagingStudy, Instance, Series
from atrium.studies.models import Study
from atrium.studies.selectors import member_role, studies_visible_to

UPLOAD_ROLES = frozenset({"study_lead", "ml_engineer", "admin"})
REFERENCE_LABEL_ROLES = frozenset({"study_lead", "ml_engineer", "admin"})


def series_visible_to(user: Any) -> QuerySet[Series]:
    """Series with at least one case in a study the user may see."""
    if not user.is_authenticated:
        return Series.objects.none()
    if user.is_platform_admin:
        return Series.objects.all()
    return Series.objects.filter(cases__study__in=studies_visible_to(user)).distinct()


def visible_series(user: Any, series_id: int) -> Series | None:
    """The series if the user may see it. One flat query: this runs on every frame request."""
    if not user.is_authenticated:
        return None
    found = Series.objects.filter(pk=series_id)
    if not user.is_platform_admin:
        found = found.filter(cases__study__memberships__user=user)
    return next(iter(found[:1]), None)


def imaging_studies_visible_to(user: Any) -> QuerySet[ImagingStudy]:
    return ImagingStudy.objects.filter(series__in=series_visible_to(user)).distinct()


def instances_visible_to(user: Any) -> QuerySet[Instance]:
    return Instance.objects.filter(series__in=series_visible_to(user))


def can_see_reference_labels(user: Any, series: Series) -> bool:
    """Reference label maps are ground truth: ML engineers, study leads and admins of a study of the series."""
    if user.is_platform_admin:
        return True
    studies = Study.objects.filter(cases__series=series, memberships__user=user).distinct()
    return any(member_role(user, study) in REFERENCE_LABEL_ROLES for study in studies)


def study_for_upload(user: Any, slug: str) -> tuple[Study | None, bool]:
    """(study, may_upload). The study is None when it does not exist or the user cannot see it."""
    study = studies_visible_to(user).filter(slug=slug).first()
    if study is None:
        return None, False
    return study, member_role(user, study) in UPLOAD_ROLES
