"""Writes about studies and cases."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from atrium.studies.models import Study, TaskKind


@transaction.atomic
def create_study(
    *,
    slug: str,
    name: str,
    task_kind: str,
    blind: bool = False,
    reads_per_case: int = 1,
    members: list[Any] | None = None,
    **options: Any,
) -> Study:
    from atrium.accounts.services import add_member

    if task_kind not in TaskKind.values:
        raise ValueError(f"unknown task kind {task_kind!r}; expected one of {', '.join(TaskKind.values)}")
    study = Study(slug=slug, name=name, task_kind=task_kind, blind=blind, reads_per_case=reads_per_case, **options)
    study.full_clean()
    study.save()
    for user in members or []:
        add_member(user=user, study=study)
    return study
