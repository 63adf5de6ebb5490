"""The `simulate` job: run the active-learning simulation of a study on a worker, with live progress."""

from __future__ import annotations

from typing import Any

from atrium.learning.models import Job, JobKind
from atrium.learning.services import JobReporter, register_handler


@register_handler(JobKind.SIMULATE)
def simulate(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from atrium.learning.simulation import clean_settings, run_simulation

    study = job.study
    if study is None:
        raise ValueError("a simulation job needs a study")
    settings = clean_settings(study, job.params)
    reporter.progress(0.0, f"simulating {', '.join(settings.strategies)} on {study.slug}")
    rows = run_simulation(
        study=study,
        settings=settings,
        progress=lambda fraction, message: reporter.progress(fraction, message),
        job=job,
        created_by=job.created_by,
    )
    return {
        "run": rows[0].params["run"] if rows else None,
        "family": settings.family,
        "full_data_score": rows[0].full_data_score if rows else None,
        "curves": {row.strategy: row.pk for row in rows},
        "labels_to_95pct": {row.strategy: _to95(row) for row in rows},
    }


def _to95(row: Any) -> int | None:
    from atrium.learning.simulation_plot import labels_to_target

    return labels_to_target(row)
