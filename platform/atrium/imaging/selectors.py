"""Reads about imaging objects, always filtered by what the user may see (a case of the series)."""

from __future__ import annotations

import functools
from typing import Any

from django.db import router
from django.db.models import QuerySet

from atrium.accounts.models import StudyMembership
from atrium.imaging.models import ImagingStudy, Instance, Series
from atrium.raw_rows import column, quoted, select_one, table
from atrium.studies.models import Case, Study
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
    """The series if the user may see it: what series_visible_to(user).filter(pk=series_id) finds.

    This runs on every frame request, so it is one plain query (atrium.raw_rows): the series row where the
    user is a member of a study with a case of it (any series for platform admins).
    """
    if not user.is_authenticated:
        return None
    using = router.db_for_read(Series)
    if user.is_platform_admin:
        return select_one(Series, "s", _series_by_id(using), [series_id], using)
    return select_one(Series, "s", _member_series_by_id(using), [series_id, user.pk], using)


@functools.cache
def _series_by_id(using: str) -> str:
    return f"WHERE {quoted('s', using)}.{column(Series, using=using)} = %s"


@functools.cache
def _member_series_by_id(using: str) -> str:
    s, c, m = (quoted(alias, using) for alias in ("s", "c", "m"))
    return (
        f"{_series_by_id(using)} AND EXISTS (SELECT 1 FROM {table(Case, using)} {c}"
        f" JOIN {table(StudyMembership, using)} {m}"
        f" ON {m}.{column(StudyMembership, 'study', using)} = {c}.{column(Case, 'study', using)}"
        f" WHERE {c}.{column(Case, 'series', using)} = {s}.{column(Series, using=using)}"
        f" AND {m}.{column(StudyMembership, 'user', using)} = %s)"
    )


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
