"""The learning-curves page of a study: the plot and the labels-to-95 % table of a simulation run, and (for
ML engineers and admins) a form that starts a `simulate` job through the REST API. Reads only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import ensure_csrf_cookie

from atrium.learning.models import Job, JobKind
from atrium.learning.simulation import SIMULATED_STRATEGIES, default_family, study_has_ground_truth
from atrium.learning.simulation_plot import latest_run_curves, learning_curves_svg, runs_of, summary
from atrium.studies.selectors import studies_visible_to


@login_required
@ensure_csrf_cookie
def learning_curves_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = studies_visible_to(request.user).filter(slug=slug).first()
    if study is None:
        raise Http404("no such study")
    runs = runs_of(study)
    run = request.GET.get("run") or None
    if run is not None and run not in {r["run"] for r in runs}:
        raise Http404("no such simulation run")
    curves = latest_run_curves(study, run=run)
    current = run or (runs[0]["run"] if runs else None)
    active = Job.objects.filter(study=study, kind=JobKind.SIMULATE, state__in=["queued", "running"])
    context = {
        "study": study,
        "curves": curves,
        "run": current,
        "runs": runs,
        "params": curves[0].params if curves else {},
        "full_data_score": curves[0].full_data_score if curves else None,
        "rows": summary(curves),
        "svg": mark_safe(learning_curves_svg(curves)),
        "can_simulate": request.user.can_manage_models(),  # type: ignore[union-attr]
        "has_ground_truth": study_has_ground_truth(study),
        "strategies": SIMULATED_STRATEGIES,
        "default_family": default_family(study),
        "active_jobs": list(active.order_by("-id")[:5]),
    }
    return render(request, "annotation_ui/learning_curves.html", context)
