"""A worker's own exporter, started by Celery's worker_init signal when ATRIUM_WORKER_METRICS_PORT is set."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from celery.signals import worker_init

from atrium.observability import worker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_worker_init_starts_an_exporter_on_the_configured_port(monkeypatch: pytest.MonkeyPatch):
    port = _free_port()
    monkeypatch.setenv("ATRIUM_WORKER_METRICS_PORT", str(port))
    worker.install()
    keys = [key for key, _ in worker_init.receivers]
    assert [key for key in keys if key[0] == "atrium-worker-metrics"], "install() connects to worker_init"
    worker._on_worker_init()  # what worker_init calls (sending the signal also wakes Celery's Django fixup)
    try:
        assert len(worker.servers) == 1
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert 'atrium_collector_up{collector="gpus"}' in body
        assert "atrium_queue_length" not in body  # queues and jobs are the web's to report
    finally:
        for server in worker.servers:
            server.shutdown()
            server.server_close()
        worker.servers.clear()


def test_without_the_port_no_exporter_starts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ATRIUM_WORKER_METRICS_PORT", raising=False)
    worker._on_worker_init()
    assert worker.servers == []
