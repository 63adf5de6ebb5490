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
    study = Study(
        slug=slug, name=name, task_kind=task_kind, blind=blind, reads_per_case=reads_per_case, **options
    )
    study.full_clean()
    study.save()
    for user in members or []:
        add_member(user=user, study=study)
    return study


def _open_reads(case: Any) -> int:
    from atrium.studies.models import Assignment

    return Assignment.objects.filter(case=case, read_number=1).count()


@transaction.atomic
def next_case_for(*, user: Any, study: Any = None) -> Any:
    """The user's next case: their unfinished assignment first, else the highest-priority case that still
    needs readers. The case row is locked while it is assigned, so two readers racing for the last read of
    a case never both get it."""
    from django.db.models import F, Max, Q

    from atrium.studies.models import Assignment, AssignmentStatus, Case, CaseStatus
    from atrium.studies.selectors import studies_visible_to

    studies = studies_visible_to(user)
    if study is not None:
        studies = studies.filter(pk=study.pk)
    unfinished = (
        Assignment.objects.filter(user=user, case__study__in=studies)
        .exclude(status=AssignmentStatus.SUBMITTED)
        .select_related("case")
        .first()
    )
    if unfinished is not None:
        return unfinished.case
    candidates = (
        Case.objects.filter(study__in=studies)
        .exclude(status=CaseStatus.COMPLETE)
        .exclude(assignments__user=user)
        .exclude(series__source="reconstruction")  # reconstructions are reviewed from their job, not queued
        .annotate(
            priority=Max(
                "queue_items__priority", filter=Q(queue_items__user__isnull=True) | Q(queue_items__user=user)
            )
        )
        .order_by(F("priority").desc(nulls_last=True), "id")
        .values_list("pk", flat=True)[:50]
    )
    for case_id in candidates:
        case = Case.objects.select_for_update().select_related("study").get(pk=case_id)
        if _open_reads(case) >= case.reads_needed:
            continue
        from atrium.accounts.services import record_audit

        assignment = Assignment.objects.create(case=case, user=user)
        status_before = case.status
        if case.status == CaseStatus.OPEN:
            case.status = CaseStatus.IN_PROGRESS
            case.save(update_fields=["status"])
        record_audit(
            actor=user,
            action="case.assign",
            obj=assignment,
            study=case.study,
            before={"case": case.pk, "status": status_before},
            after={"case": case.pk, "status": case.status, "read_number": assignment.read_number},
        )
        return case
    return None


@transaction.atomic
def submit_case(*, case: Any, user: Any) -> Any:
    """Submit the user's read of a case; the case is complete once it has `reads_per_case` submitted reads."""
    from django.utils import timezone

    from atrium.accounts.services import record_audit
    from atrium.studies.models import Assignment, AssignmentStatus, Case, CaseStatus

    case = Case.objects.select_for_update().select_related("study").get(pk=case.pk)
    status_before = case.status
    assignment = (
        Assignment.objects.filter(case=case, user=user)
        .exclude(status=AssignmentStatus.SUBMITTED)
        .order_by("read_number")
        .first()
    )
    if assignment is None:
        if Assignment.objects.filter(case=case, user=user, status=AssignmentStatus.SUBMITTED).exists():
            return case  # submitting twice is harmless
        assignment = Assignment.objects.create(case=case, user=user)
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.submitted_at = timezone.now()
    assignment.save(update_fields=["status", "submitted_at"])
    submitted = Assignment.objects.filter(case=case, status=AssignmentStatus.SUBMITTED, read_number=1).count()
    case.status = CaseStatus.COMPLETE if submitted >= case.reads_needed else CaseStatus.IN_PROGRESS
    case.save(update_fields=["status"])
    record_audit(
        actor=user,
        action="case.submit",
        obj=case,
        study=case.study,
        before={"status": status_before},
        after={"status": case.status, "read_number": assignment.read_number},
    )
    study = case.study

    def after_submit() -> None:
        from atrium.agreement.services import request_recompute
        from atrium.learning.triggers import maybe_retrain

        request_recompute(study=study)
        maybe_retrain(study=study)

    transaction.on_commit(after_submit)
    return case


@transaction.atomic
def assign_repeat_read(*, case: Any, user: Any, assigned_by: Any) -> Any:
    """Give a reader another, independent read of a case they already read (intra-observer agreement)."""
    from django.db.models import Max

    from atrium.accounts.services import record_audit
    from atrium.studies.models import Assignment

    latest = Assignment.objects.filter(case=case, user=user).aggregate(n=Max("read_number"))["n"] or 0
    assignment = Assignment.objects.create(case=case, user=user, read_number=latest + 1)
    record_audit(
        actor=assigned_by,
        action="assignment.repeat",
        obj=assignment,
        study=case.study,
        after={"user": user.pk, "read_number": assignment.read_number},
    )
    return assignment


@transaction.atomic
def route_to_further_reader(*, case: Any) -> Any:
    """Readings of the case disagree: ask for one more reader (once) and reopen it if it was complete."""
    from atrium.accounts.services import record_audit
    from atrium.studies.models import Case, CaseStatus

    case = Case.objects.select_for_update().select_related("study").get(pk=case.pk)
    if case.extra_reads >= 1:
        return case
    case.extra_reads += 1
    if case.status == CaseStatus.COMPLETE:
        case.status = CaseStatus.IN_PROGRESS
    case.save(update_fields=["extra_reads", "status"])
    record_audit(
        actor=None,
        action="case.further_reader",
        obj=case,
        study=case.study,
        after={"extra_reads": case.extra_reads},
    )
    return case
