"""A Redis restart loses no queued job: job rows live in the database, and a worker re-sends the jobs whose
messages vanished with the broker; claiming is conditional, so nothing runs twice.

Runs its own throw-away `redis-server` (no persistence, so a restart really empties it) on a free port; the
machine's shared Redis is never touched.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from atrium.learning.models import Job, JobState
from atrium.learning.services import enqueue_job
from tests.conftest import start_worker, stop_worker, wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server that keeps nothing on disk: killing and starting it again empties every queue."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        log = open(self.folder / "redis.log", "ab")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        if not wait_for(self._answers, timeout=15):
            raise RuntimeError(
                f"redis-server did not start:\n{(self.folder / 'redis.log').read_text()[-2000:]}"
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:
            return False

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)

    def queued(self, queue: str) -> int:
        return int(self.client().llen(queue))


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Send this process's job messages to `url` (the enqueuing side), then restore the test broker."""
    from atrium.celery_app import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options)

    def reset_pools() -> None:
        # kombu keeps its connection and producer pools in global registries keyed by broker URL; closing a
        # pool without clearing them would hand the closed pool back once the test broker is restored.
        from kombu import pools

        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    reset_pools()
    app.conf.broker_url, app.conf.broker_transport_options = url, {}
    try:
        yield
    finally:
        reset_pools()
        app.conf.broker_url, app.conf.broker_transport_options = saved


def _ingest_job(study, folder: Path) -> Job:
    return enqueue_job(kind="ingest", study=study, params={"path": str(folder)})


def _finished(ids: list[int]) -> bool:
    return (
        not Job.objects.filter(pk__in=ids).exclude(state__in=[JobState.SUCCEEDED, JobState.FAILED]).exists()
    )


def test_jobs_queued_before_a_redis_restart_or_during_its_outage_all_run_once(tmp_path):
    from atrium.imaging.demo_data import make_demo_data
    from atrium.studies.models import Study

    folders = []
    for seed in range(5):
        folder = tmp_path / f"data-{seed}"
        make_demo_data(folder, seed=40 + seed, n_cardiac=1, n_ultrasound=0, size=32)
        folders.append(folder)
    study = Study.objects.create(slug="redis-restart", name="Redis restart", task_kind="cardiac")
    (tmp_path / "redis").mkdir()
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    worker = None
    try:
        with celery_broker(server.url):
            # 1. Three jobs queued with no worker running: their messages sit in Redis...
            first = [_ingest_job(study, folder) for folder in folders[:3]]
            assert server.queued("cpu") == 3
            # ...until Redis restarts and forgets them.
            server.kill()
            server.start()
            assert server.queued("cpu") == 0

            worker = start_worker(
                "redis", {"REDIS_URL": server.url, "ATRIUM_JOB_REQUEUE_S": "2", "ATRIUM_JOB_SWEEP_S": "1"}
            )
            log = worker.log_path
            assert wait_for(lambda: _finished([j.pk for j in first]), 120), log.read_text()[-3000:]

            # 2. Redis goes away under a running worker; a job is enqueued during the outage (its message
            # cannot be sent, the row is committed), Redis comes back empty, and another job follows.
            server.kill()
            try:
                during = _ingest_job(study, folders[3])
            except Exception:  # the send fails after the row is committed; the row is what counts
                during = Job.objects.order_by("-pk").first()
            assert during is not None and during.pk not in {j.pk for j in first}
            time.sleep(1)
            server.start()
            after = _ingest_job(study, folders[4])
            every = [*(j.pk for j in first), during.pk, after.pk]
            assert wait_for(lambda: _finished(every), 120), log.read_text()[-3000:]
    finally:
        if worker is not None:
            stop_worker(worker)
        if server.process is not None and server.process.poll() is None:
            server.kill()

    jobs = list(Job.objects.filter(pk__in=every).order_by("pk"))
    assert [job.state for job in jobs] == [JobState.SUCCEEDED] * 5, [job.error for job in jobs]
    # Claimed once each, and each folder's one cine became exactly one case.
    assert [job.attempts for job in jobs] == [1] * 5
    assert [len(job.result["cases_created"]) for job in jobs] == [1] * 5
    assert study.cases.count() == 5
