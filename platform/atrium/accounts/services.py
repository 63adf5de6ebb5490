"""Writes about users and memberships."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from atrium.accounts.models import AuditEntry, Role, StudyMembership, User


@transaction.atomic
def create_user(*, username: str, password: str, role: str = Role.ANNOTATOR, email: str = "") -> User:
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    user = User(username=username, email=email, role=role, is_staff=role == Role.ADMIN)
    user.is_superuser = role == Role.ADMIN
    user.set_password(password)
    user.save()
    return user


MEMBERSHIP_ROLES = (Role.ANNOTATOR, Role.ML_ENGINEER, Role.STUDY_LEAD)


@transaction.atomic
def add_member(*, user: User, study: Any, role: str | None = None, actor: Any = None) -> StudyMembership:
    """Add `user` to `study` (or change their role there); the change goes into the audit log."""
    role = role or user.role
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    existing = StudyMembership.objects.select_for_update().filter(user=user, study=study).first()
    before = {"user": user.get_username(), "role": existing.role} if existing else None
    membership, created = StudyMembership.objects.update_or_create(
        user=user, study=study, defaults={"role": role}
    )
    if created or before != {"user": user.get_username(), "role": role}:
        record_audit(
            actor=actor,
            action="membership.add" if created else "membership.change",
            obj=membership,
            study=study,
            before=before,
            after={"user": user.get_username(), "role": role},
        )
    return membership


@transaction.atomic
def remove_member(*, membership: StudyMembership, actor: Any = None) -> None:
    before = {"user": membership.user.get_username(), "role": membership.role}
    record_audit(
        actor=actor, action="membership.remove", obj=membership, study=membership.study, before=before
    )
    membership.delete()


def record_audit(
    *,
    actor: User | None,
    action: str,
    obj: Any,
    study: Any = None,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        object_type=type(obj).__name__,
        object_id=str(obj.pk),
        study=study,
        before=before,
        after=after,
    )
