"""Reads about the audit log, annotation histories and memberships, filtered by what the user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from atrium.accounts.history import describe_change
from atrium.accounts.models import AuditEntry, StudyMembership

AUDIT_ROLES = frozenset({"study_lead", "admin"})
MEMBER_ADMIN_ROLES = frozenset({"study_lead", "admin"})


def may_read_audit(user: Any, study: Any) -> bool:
    """The study's leads and platform admins read its audit log."""
    from atrium.studies.selectors import member_role

    return bool(user.is_authenticated) and member_role(user, study) in AUDIT_ROLES


def may_manage_members(user: Any, study: Any) -> bool:
    from atrium.studies.selectors import member_role

    return bool(user.is_authenticated) and member_role(user, study) in MEMBER_ADMIN_ROLES


class AuditFilterError(ValueError):
    pass


@dataclass(frozen=True)
class AuditFilters:
    user: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_query(cls, params: Any) -> AuditFilters:
        def day(name: str) -> date | None:
            raw = str(params.get(name, "") or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise AuditFilterError(f"{name} must be a date as YYYY-MM-DD, got {raw[:40]!r}") from None

        since, until = day("since"), day("until")
        if since and until and until < since:
            raise AuditFilterError(f"until ({until}) is before since ({since})")
        return cls(
            user=str(params.get("user", "") or "").strip()[:150],
            action=str(params.get("action", "") or "").strip()[:64],
            since=since,
            until=until,
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "user": self.user,
            "action": self.action,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }


def audit_entries(study: Any, filters: AuditFilters | None = None) -> QuerySet[AuditEntry]:
    """The study's audit entries, newest first, narrowed by user name, action (prefix) and day range."""
    queryset = AuditEntry.objects.filter(study=study).select_related("actor")
    filters = filters or AuditFilters()
    if filters.user:
        queryset = queryset.filter(actor__username=filters.user)
    if filters.action:
        queryset = queryset.filter(action__startswith=filters.action)
    zone = timezone.get_current_timezone()
    if filters.since:
        queryset = queryset.filter(created_at__gte=datetime.combine(filters.since, time.min, tzinfo=zone))
    if filters.until:
        queryset = queryset.filter(created_at__lte=datetime.combine(filters.until, time.max, tzinfo=zone))
    return queryset.order_by("-created_at", "-id")


def audit_actions(study: Any) -> list[str]:
    return sorted(set(AuditEntry.objects.filter(study=study).values_list("action", flat=True)))


def audit_payload(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "at": entry.created_at.isoformat(),
        "user": entry.actor.get_username() if entry.actor else None,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
    }


def case_history(user: Any, case: Any) -> list[dict[str, Any]]:
    """Every version of every annotation on the case that the user may see (blind reading hides other
    readers' work), oldest first, with who saved it, when, and what changed from its parent."""
    from atrium.annotations.models import AnnotationVersion
    from atrium.annotations.selectors import annotations_visible_to

    visible = annotations_visible_to(user, case, include_deleted=True)
    versions = (
        AnnotationVersion.objects.filter(annotation__in=visible)
        .select_related("author", "annotation", "parent")
        .order_by("created_at", "annotation_id", "number")
    )
    rows = []
    for version in versions:
        parent_data = version.parent.data if version.parent_id and version.parent else None
        rows.append(
            {
                "annotation": version.annotation_id,
                "kind": version.annotation.kind,
                "version": version.number,
                "parent": version.parent.number if version.parent_id and version.parent else None,
                "user": version.author.get_username(),
                "at": version.created_at.isoformat(),
                "deleted": version.deleted,
                "change": describe_change(
                    version.annotation.kind, parent_data, version.data, deleted=version.deleted
                ),
            }
        )
    return rows


def members_of(study: Any) -> QuerySet[StudyMembership]:
    return StudyMembership.objects.filter(study=study).select_related("user").order_by("user__username")
