"""Job handlers: each turns a claimed job into calls to a service and returns a JSON-able result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atrium.learning.models import Job, JobKind
from atrium.learning.services import JobReporter, register_handler


@register_handler(JobKind.INGEST)
def ingest(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from atrium.imaging.services import ingest_sources
    from atrium.imaging.sources import count_sources, iter_sources
    from atrium.studies.models import Study

    root = Path(job.params["path"])
    study = job.study or Study.objects.get(slug=job.params["study"])
    total = count_sources(root)

    def progress(done: int, total_: int, name: str) -> None:
        if done % 20 == 0 or done == total_:
            reporter.progress(done / max(total_, 1) * 0.9, f"decoded {done}/{total_} files", files=done)

    report = ingest_sources(
        study=study,
        sources=iter_sources(root),
        site=job.params.get("site", ""),
        progress=progress,
        total=total,
    )
    return report.as_dict()
