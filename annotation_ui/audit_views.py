"""Audit pages: a study's audit log (its leads and admins) and the annotation history of one case."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from atrium.accounts.selectors import (
    AuditFilterError,
    AuditFilters,
    audit_actions,
    audit_entries,
    case_history,
    may_read_audit,
)
from atrium.studies.selectors import cases_visible_to, studies_visible_to

PAGE_SIZE = 50


def _short(value: Any) -> str:
    """A one-line JSON rendering, cut to a readable length (the REST endpoint has the full values)."""
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


@login_required
def study_audit(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(studies_visible_to(request.user), slug=slug)
    if not may_read_audit(request.user, study):
        raise PermissionDenied("the audit log is for the study's leads and admins")
    error = ""
    try:
        filters = AuditFilters.from_query(request.GET)
    except AuditFilterError as exc:
        error, filters = str(exc), AuditFilters()
    paginator = Paginator(audit_entries(study, filters), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows = [{"entry": entry, "before": _short(entry.before), "after": _short(entry.after)} for entry in page]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "study": study,
        "rows": rows,
        "page": page,
        "filters": filters.as_dict(),
        "actions": audit_actions(study),
        "error": error,
        "query": query.urlencode(),
    }
    return render(request, "annotation_ui/audit.html", context, status=400 if error else 200)


@login_required
def case_history_page(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_object_or_404(cases_visible_to(request.user), pk=case_id)
    return render(
        request,
        "annotation_ui/case_history.html",
        {
            "case": case,
            "rows": case_history(request.user, case),
            "audit": may_read_audit(request.user, case.study),
        },
    )
