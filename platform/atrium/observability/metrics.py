"""The Prometheus registry of the web process: request latency plus figures read at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from atrium.observability.gpus import gpu_metrics, gpu_samples
from atrium.observability.jobs import job_metrics
from atrium.observability.queues import queue_lengths

logger = logging.getLogger(__name__)

# Seconds: frame requests are tens of milliseconds, uploads and reports can take many seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def queue_metrics() -> Iterator[Metric]:
    family = GaugeMetricFamily("atrium_queue_length", "Messages waiting in a Celery queue", labels=["queue"])
    for queue, length in sorted(queue_lengths().items()):
        family.add_metric([queue], length)
    yield family


def gpu_source() -> Iterator[Metric]:
    yield from gpu_metrics(gpu_samples())


Source = Callable[[], Iterable[Metric]]


class ScrapeTimeCollector(Collector):
    """Runs each named source at scrape time; one failing source never hides the others.

    `atrium_collector_up{collector=NAME}` is 1 when the source answered and 0 when it raised.
    """

    def __init__(self, sources: dict[str, Source]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "atrium_collector_up", "Whether a scrape-time source answered", labels=["collector"]
        )
        for name, source in self.sources.items():
            try:
                families = list(source())
            except Exception:
                logger.warning("metrics source %s failed", name, exc_info=True)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected lazily: never query the database when registering


def build_web_registry() -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry(auto_describe=False)
    latency = Histogram(
        "atrium_http_request_duration_seconds",
        "Time from the first middleware to the response, by route",
        labelnames=["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    ProcessCollector(registry=registry)
    registry.register(ScrapeTimeCollector({"queues": queue_metrics, "jobs": job_metrics, "gpus": gpu_source}))
    return registry, latency


def build_worker_registry() -> CollectorRegistry:
    """For a worker's own exporter: its GPUs and its process (queues and jobs come from the web)."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    registry.register(ScrapeTimeCollector({"gpus": gpu_source}))
    return registry


REGISTRY, REQUEST_LATENCY = build_web_registry()
