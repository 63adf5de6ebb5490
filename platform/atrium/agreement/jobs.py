"""The "report" job handler (cpu queue): recompute a study's agreement report with live progress."""

from __future__ import annotations

from typing import Any

from atrium.learning.models import Job, JobKind
from atrium.learning.services import JobReporter, register_handler


@register_handler(JobKind.REPORT)
def report(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from atrium.agreement.services import compute_report

    if job.study is None:
        raise ValueError("a report job needs a study")
    result = compute_report(
        study=job.study, progress=lambda fraction, message: reporter.progress(fraction, message)
    )
    return {
        "report": result.pk,
        "computed_at": result.computed_at.isoformat() if result.computed_at else None,
        **result.data.get("compute", {}),
    }
