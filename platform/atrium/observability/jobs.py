"""Job counts and durations, aggregated in the database at scrape time from learning.Job."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

# Seconds: inference of one cine takes seconds, a training round tens of minutes to hours.
JOB_DURATION_BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)


def _seconds(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value) / 1e6  # some backends hand back microseconds
    raise TypeError(f"cannot read a duration from {value!r}")


def job_state_counts() -> GaugeMetricFamily:
    from atrium.learning.models import Job

    family = GaugeMetricFamily("atrium_jobs", "Jobs by kind and state", labels=["kind", "state"])
    rows = Job.objects.order_by().values("kind", "state").annotate(n=Count("id"))
    for row in sorted(rows, key=lambda r: (r["kind"], r["state"])):
        family.add_metric([row["kind"], row["state"]], row["n"])
    return family


def job_duration_histogram(buckets: Sequence[float] = JOB_DURATION_BUCKETS) -> HistogramMetricFamily:
    """Run time (finished_at - started_at) of finished jobs, by kind and final state.

    Counts are over every finished job still in the database, so they only grow: use `rate()` or
    `increase()` over them as for any Prometheus histogram.
    """
    from atrium.learning.models import FINISHED_STATES, Job

    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    bucket_counts = {
        f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(buckets)
    }
    rows = (
        Job.objects.order_by()
        .filter(state__in=FINISHED_STATES, started_at__isnull=False, finished_at__isnull=False)
        .annotate(duration=duration)
        .values("kind", "state")
        .annotate(n=Count("id"), total=Sum("duration"), **bucket_counts)
    )
    family = HistogramMetricFamily(
        "atrium_job_duration_seconds", "Run time of finished jobs", labels=["kind", "state"]
    )
    for row in sorted((dict(r) for r in rows), key=lambda r: (str(r["kind"]), str(r["state"]))):
        cumulative: list[tuple[str, Any]] = [
            (_format_bound(bound), row[f"le_{i}"]) for i, bound in enumerate(buckets)
        ]
        cumulative.append(("+Inf", row["n"]))
        family.add_metric([str(row["kind"]), str(row["state"])], cumulative, sum_value=_seconds(row["total"]))
    return family


def _format_bound(bound: float) -> str:
    return repr(float(bound))


def job_metrics() -> Iterator[Metric]:
    yield job_state_counts()
    yield job_duration_histogram()
