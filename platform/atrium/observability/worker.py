"""A Prometheus exporter inside a Celery worker (its GPUs), started when ATRIUM_WORKER_METRICS_PORT is set."""

from __future__ import annotations

import logging
from threading import Thread
from wsgiref.simple_server import WSGIServer

from celery.signals import worker_init
from prometheus_client import start_http_server

from atrium.observability.metrics import build_worker_registry
from atrium.settings.env import env_int

logger = logging.getLogger(__name__)

#: The exporter started by the worker_init signal, kept so that it can be shut down (tests, reloads).
servers: list[WSGIServer] = []


def start_worker_metrics_server(port: int, addr: str = "0.0.0.0") -> tuple[WSGIServer, Thread]:
    """Serve the worker registry on `addr:port` (0: any free port) from a daemon thread."""
    server, thread = start_http_server(port, addr=addr, registry=build_worker_registry())
    logger.info("worker metrics on %s:%d", addr, server.server_port)
    return server, thread


def _on_worker_init(**kwargs: object) -> None:
    port = env_int("ATRIUM_WORKER_METRICS_PORT", 0)
    if port:
        server, _ = start_worker_metrics_server(port)
        servers.append(server)


def install() -> None:
    """Call once from celery_app.py; the exporter starts in the worker's main process, once."""
    worker_init.connect(_on_worker_init, weak=False, dispatch_uid="atrium-worker-metrics")
