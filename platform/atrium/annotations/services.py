"""Annotation writes: every save is a new immutable version; a stale version number is a 409, never lost."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from rest_framework.exceptions import PermissionDenied, ValidationError

from atrium.accounts.services import record_audit
from atrium.annotations.models import Annotation, AnnotationVersion
from atrium.annotations.validation import AnnotationDataError, clean_annotation_data
from atrium.api_errors import Conflict
from atrium.studies.models import Case


def _clean(case: Case, kind: str, data: Any) -> dict[str, Any]:
    try:
        return clean_annotation_data(kind, data, layout=case.series.layout, shape=list(case.series.shape))
    except AnnotationDataError as exc:
        raise ValidationError({"data": [str(exc)]}) from None


def annotation_payload(annotation: Annotation) -> dict[str, Any]:
    return {
        "id": annotation.pk,
        "case": annotation.case_id,
        "kind": annotation.kind,
        "author": {"id": annotation.author_id, "username": annotation.author.get_username()},
        "source": "observer",
        "version": annotation.version,
        "data": annotation.data,
        "deleted": annotation.deleted,
        "created_at": annotation.created_at.isoformat(),
        "updated_at": annotation.updated_at.isoformat(),
    }


def _after_save(annotation: Annotation, action: str, before: Any) -> None:
    record_audit(
        actor=annotation.author,
        action=action,
        obj=annotation,
        study=annotation.case.study,
        before=before,
        after={"version": annotation.version, "data": annotation.data, "deleted": annotation.deleted},
    )
    payload = annotation_payload(annotation)

    def push_event() -> None:
        from annotation_ui.groups import case_group, push, user_group

        # In blind reading only the author's own sockets hear about the save.
        group = (
            user_group(annotation.author_id)
            if annotation.case.study.blind
            else case_group(annotation.case_id)
        )
        push(group, "annotation.saved", {"annotation": payload})

    transaction.on_commit(push_event)

    from atrium.agreement.services import mark_stale

    # The report is recomputed when a case is submitted; a save only marks it stale, in the save's own
    # transaction (no second commit; a report row already stale is not written).
    mark_stale(study=annotation.case.study)


def current_read(*, case: Case, user: Any) -> Any:
    """The read an annotation belongs to: the user's open assignment on the case, else their latest one,
    else a first read created now. Repeated reads (read_number > 1) give intra-observer agreement."""
    from atrium.studies.models import Assignment, AssignmentStatus

    reads = Assignment.objects.filter(case=case, user=user).order_by("-read_number")
    open_read = reads.exclude(status=AssignmentStatus.SUBMITTED).first()
    if open_read is not None:
        return open_read
    latest = reads.first()
    if latest is not None:
        return latest
    return Assignment.objects.create(case=case, user=user, status=AssignmentStatus.IN_PROGRESS)


@transaction.atomic
def create_annotation(*, case: Case, author: Any, kind: str, data: Any) -> Annotation:
    cleaned = _clean(case, kind, data)
    if kind == "phases":
        existing = Annotation.objects.filter(case=case, author=author, kind="phases", deleted=False).first()
        if existing is not None:
            return update_annotation(
                annotation=existing, author=author, data=cleaned, expected_version=existing.version
            )
    annotation = Annotation.objects.create(
        case=case,
        author=author,
        kind=kind,
        data=cleaned,
        version=1,
        assignment=current_read(case=case, user=author),
    )
    AnnotationVersion.objects.create(annotation=annotation, number=1, author=author, data=cleaned)
    _after_save(annotation, "annotation.create", None)
    return annotation


def _lock_for_write(annotation: Annotation, author: Any, expected_version: int) -> Annotation:
    # The annotation row alone (of=self, no joins): FOR UPDATE over a join would also lock the case, study,
    # series and user rows, so every save in a study would wait for the one before it to commit.
    # The current version's id comes with the row (the new version's parent), not in a query of its own.
    current = AnnotationVersion.objects.filter(annotation=OuterRef("pk"), number=OuterRef("version"))
    locked = (
        Annotation.objects.select_for_update(of=("self",))
        .annotate(current_version_id=Subquery(current.values("pk")[:1]))
        .get(pk=annotation.pk)
    )
    # An annotation's case and author never change: reuse the ones the caller loaded, if it did.
    for name in ("case", "author"):
        field = Annotation._meta.get_field(name)
        if field.is_cached(annotation):  # type: ignore[union-attr]
            field.set_cached_value(locked, field.get_cached_value(annotation))  # type: ignore[union-attr]
    if locked.author_id != author.pk:
        raise PermissionDenied("only the observer who drew an annotation may change it")
    if locked.version != expected_version:
        raise Conflict(
            f"annotation {locked.pk} is at version {locked.version}, but this edit was based on version "
            f"{expected_version}; reload it and apply your change again",
            current=annotation_payload(locked),
        )
    if locked.deleted:
        raise Conflict(f"annotation {locked.pk} was deleted", current=annotation_payload(locked))
    return locked


@transaction.atomic
def update_annotation(*, annotation: Annotation, author: Any, data: Any, expected_version: int) -> Annotation:
    locked = _lock_for_write(annotation, author, expected_version)
    cleaned = _clean(locked.case, locked.kind, data)
    before = {"version": locked.version, "data": locked.data}
    parent_id = int(locked.current_version_id)  # type: ignore[attr-defined]
    locked.version += 1
    locked.data = cleaned
    locked.save(update_fields=["version", "data", "updated_at"])
    AnnotationVersion.objects.create(
        annotation=locked, number=locked.version, parent_id=parent_id, author=author, data=cleaned
    )
    _after_save(locked, "annotation.update", before)
    return locked


@transaction.atomic
def delete_annotation(*, annotation: Annotation, author: Any, expected_version: int) -> Annotation:
    locked = _lock_for_write(annotation, author, expected_version)
    before = {"version": locked.version, "data": locked.data}
    parent_id = int(locked.current_version_id)  # type: ignore[attr-defined]
    locked.version += 1
    locked.deleted = True
    locked.save(update_fields=["version", "deleted", "updated_at"])
    AnnotationVersion.objects.create(
        annotation=locked,
        number=locked.version,
        parent_id=parent_id,
        author=author,
        data=locked.data,
        deleted=True,
    )
    _after_save(locked, "annotation.delete", before)
    return locked
