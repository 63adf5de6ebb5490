"""Pages. They only read (selectors) and render; writes go through the REST API and services."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from atrium.learning.selectors import jobs_visible_to, version_rows
from atrium.studies.selectors import cases_visible_to, studies_visible_to


@login_required
def study_list(request: HttpRequest) -> HttpResponse:
    studies = studies_visible_to(request.user).order_by("name")
    rows = [(study, study.cases.count(), study.cases.filter(status="complete").count()) for study in studies]
    return render(request, "annotation_ui/studies.html", {"rows": rows})


@login_required
def study_detail(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(studies_visible_to(request.user), slug=slug)
    cases = cases_visible_to(request.user).filter(study=study)
    manages = getattr(request.user, "can_manage_models", lambda: False)()  # login_required: a User here
    versions = version_rows(study) if manages else []
    return render(request, "annotation_ui/study.html", {"study": study, "cases": cases, "versions": versions})


@login_required
def my_queue(request: HttpRequest) -> HttpResponse:
    cases = cases_visible_to(request.user).exclude(status="complete")[:200]
    return render(request, "annotation_ui/queue.html", {"cases": cases})


@login_required
@ensure_csrf_cookie
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_object_or_404(cases_visible_to(request.user).select_related("series"), pk=case_id)
    series = case.series
    # The frame the tool opens on (frontend/src/viewer/frameIds.ts openingFrame): the page preloads it.
    opening_frame = series.frame_index(int(series.shape[0]) // 2, 0) if series.layout == "cine" else 0
    return render(request, "annotation_ui/case.html", {"case": case, "opening_frame": opening_frame})


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = jobs_visible_to(request.user).select_related("study")[:100]
    return render(request, "annotation_ui/jobs.html", {"jobs": jobs})


@login_required
@ensure_csrf_cookie
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(jobs_visible_to(request.user), pk=job_id)
    return render(request, "annotation_ui/job.html", {"job": job})
