"""Which annotations a user may see on a case: blind reading hides other observers' work."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atrium.annotations.models import Annotation
from atrium.studies.models import Case


def sees_everything(user: Any, case: Case) -> bool:
    """Leads, ML engineers and admins see all reads; annotators in a blind study see only their own."""
    return not case.study.blind or user.has_role("study_lead", "ml_engineer", "admin")


def may_see(user: Any, annotation: Annotation) -> bool:
    """`annotations_visible_to` for one annotation whose case the user may open."""
    return annotation.author_id == user.pk or sees_everything(user, annotation.case)


def annotations_visible_to(user: Any, case: Case, *, include_deleted: bool = False) -> QuerySet[Annotation]:
    queryset = Annotation.objects.filter(case=case).select_related("author")
    if not include_deleted:
        queryset = queryset.filter(deleted=False)
    if not sees_everything(user, case):
        queryset = queryset.filter(author=user)
    return queryset


def model_output_visible_to(user: Any, case: Case) -> bool:
    return not (case.study.blind and case.study.blind_hides_model) or sees_everything(user, case)
