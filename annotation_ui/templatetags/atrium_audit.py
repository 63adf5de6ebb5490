"""Template filters for audit links: only the study's leads and admins see the audit log link."""

from __future__ import annotations

from typing import Any

from django import template

from atrium.accounts.selectors import may_read_audit

register = template.Library()


@register.filter
def may_audit(user: Any, study: Any) -> bool:
    return may_read_audit(user, study)
