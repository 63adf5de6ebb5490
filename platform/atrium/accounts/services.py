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


@transaction.atomic
def add_member(*, user: User, study: Any, role: str | None = None) -> StudyMembership:
    membership, _ = StudyMembership.objects.update_or_create(
        user=user, study=study, defaults={"role": role or user.role}
    )
    return membership


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
