"""Reads about studies and cases, always filtered by what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atrium.studies.models import Case, Study


def studies_visible_to(user: Any) -> QuerySet[Study]:
    if not user.is_authenticated:
        return Study.objects.none()
    if user.is_platform_admin:
        return Study.objects.all()
    return Study.objects.filter(memberships__user=user).distinct()


def cases_visible_to(user: Any) -> QuerySet[Case]:
    return Case.objects.filter(study__in=studies_visible_to(user)).select_related("study", "series")


def member_role(user: Any, study: Study) -> str | None:
    """The user's role in the study, or None when not a member (admins count as admin everywhere)."""
    if user.is_platform_admin:
        return "admin"
    membership = study.memberships.filter(user=user).first()
    return membership.role if membership else None
