"""Report pages: the tables and plots of a study's agreement report, and its PDF. Reads only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import ensure_csrf_cookie

from atrium.agreement.breakdown import group_value
from atrium.agreement.compute import MEASURE_LABELS
from atrium.agreement.presentation import Filters, bland_altman_svg, filter_report
from atrium.agreement.selectors import annotation_changes_since, latest_report_job, report_access, report_for
from atrium.studies.models import Study
from atrium.studies.selectors import studies_visible_to


def _study(request: HttpRequest, slug: str) -> tuple[Study, str]:
    study = studies_visible_to(request.user).filter(slug=slug).first()
    if study is None:
        raise Http404("no such study")
    access = report_access(request.user, study)
    if access is None:
        raise PermissionDenied("agreement reports are for study leads, ML engineers and admins")
    return study, access


@login_required
@ensure_csrf_cookie
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    study, access = _study(request, slug)
    report = report_for(study)
    filters = Filters.from_query(request.GET)
    data = filter_report(report.data, filters) if report and report.computed_at else {}
    changes = annotation_changes_since(study, report.computed_at) if report and report.computed_at else 0
    job = latest_report_job(study)
    plots = [
        {"row": r, "svg": mark_safe(bland_altman_svg(r))}
        for r in data.get("measures", [])
        if r["points"] and r["measure"] in ("lvedv", "lvesv", "lvm", "rvedv", "rvesv", "lvef", "rvef")
    ][:30]
    readers = report.data.get("readers", []) if report else []
    rounds = sorted({r["round"] for r in readers if r.get("round") is not None})
    cases = report.data.get("cases", []) if report else []
    sites = sorted({group_value(c, "site") for c in cases})
    vendors = sorted({group_value(c, "vendor") for c in cases})
    context = {
        "study": study,
        "report": report,
        "data": data,
        "stale": bool(report and (report.stale or changes)),
        "changes": changes,
        "can_recompute": access == "recompute",
        "job": job if job is not None and not job.is_finished else None,
        "filters": filters,
        "readers": readers,
        "rounds": rounds,
        "sites": sites,
        "vendors": vendors,
        "structures": ["LV", "Myo", "RV"],
        "phases": ["ED", "ES"],
        "plots": plots,
        "measure_labels": MEASURE_LABELS,
        "query": request.GET.urlencode(),
    }
    return render(request, "agreement/report.html", context)


@login_required
def report_pdf(request: HttpRequest, slug: str) -> HttpResponse:
    from atrium.agreement.pdf import report_pdf as build

    study, _ = _study(request, slug)
    report = report_for(study)
    if report is None or report.computed_at is None:
        raise Http404("the report has not been computed yet")
    data = filter_report(report.data, Filters.from_query(request.GET))
    pdf = build(study, report, data, annotation_changes_since(study, report.computed_at))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="agreement-{study.slug}.pdf"'
    return response
