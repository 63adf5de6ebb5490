"""/metrics: queue lengths from the real broker transports, job durations from the database, a token."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from atrium.observability import queues


def scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _publish(connection: Connection, queue: str, count: int, priority: int = 0) -> None:
    with connection.SimpleQueue(queue) as simple:
        for i in range(count):
            simple.put({"n": i}, priority=priority)


def test_queue_lengths_count_messages_published_through_the_filesystem_transport(
    client, db, settings, tmp_path: Path
):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    with Connection("filesystem://", transport_options=options) as connection:
        _publish(connection, "gpu", 3)
        _publish(connection, "cpu", 1)
        _publish(connection, "reports-elsewhere", 2)  # a queue the platform does not route to
    samples = scrape(client)
    assert samples[("atrium_queue_length", (("queue", "gpu"),))] == 3
    assert samples[("atrium_queue_length", (("queue", "cpu"),))] == 1
    assert samples[("atrium_collector_up", (("collector", "queues"),))] == 1


def test_queue_names_come_from_the_celery_routes(settings):
    settings.CELERY_TASK_DEFAULT_QUEUE = "cpu"
    settings.CELERY_TASK_ROUTES = {"a": {"queue": "gpu"}, "b": {"queue": "gpu-large"}}
    assert queues.queue_names() == ["cpu", "gpu", "gpu-large"]


def _redis_url() -> str | None:
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return url


def test_redis_queue_lengths_add_up_every_priority_list_that_kombu_writes():
    url = _redis_url()
    if url is None:
        pytest.skip("no Redis server on REDIS_URL or 127.0.0.1:6379")
    name = f"atrium-test-{uuid.uuid4().hex}"
    with Connection(url) as connection:
        try:
            _publish(connection, name, 2, priority=0)
            _publish(connection, name, 3, priority=9)
            assert queues.redis_queue_lengths(url, [name, f"{name}-empty"]) == {name: 5, f"{name}-empty": 0}
        finally:
            with connection.SimpleQueue(name) as simple:
                simple.clear()


def test_an_unsupported_broker_marks_the_queue_source_down_and_keeps_the_rest(client, db, settings):
    settings.CELERY_BROKER_URL = "amqp://guest@nowhere//"
    samples = scrape(client)
    assert samples[("atrium_collector_up", (("collector", "queues"),))] == 0
    assert samples[("atrium_collector_up", (("collector", "jobs"),))] == 1
    assert not [key for key in samples if key[0] == "atrium_queue_length"]


def _job(kind: str, state: str, seconds: float | None):
    from atrium.learning.models import Job

    started = timezone.now() - timedelta(hours=5)
    return Job.objects.create(
        kind=kind,
        state=state,
        started_at=None if seconds is None else started,
        finished_at=None if seconds is None else started + timedelta(seconds=seconds),
    )


def test_job_durations_fill_the_histogram_buckets_of_their_kind_and_state(client, db):
    _job("train", "succeeded", 45.0)
    _job("train", "succeeded", 4000.0)
    _job("train", "failed", 3.0)
    _job("infer", "succeeded", 0.5)
    _job("infer", "running", None)
    _job("train", "queued", None)
    samples = scrape(client)

    def bucket(kind: str, state: str, le: str) -> float:
        return samples[("atrium_job_duration_seconds_bucket", (("kind", kind), ("le", le), ("state", state)))]

    assert bucket("train", "succeeded", "30.0") == 0
    assert bucket("train", "succeeded", "60.0") == 1
    assert bucket("train", "succeeded", "3600.0") == 1
    assert bucket("train", "succeeded", "7200.0") == 2
    assert bucket("train", "succeeded", "+Inf") == 2
    assert bucket("train", "failed", "5.0") == 1
    assert bucket("infer", "succeeded", "1.0") == 1
    train_ok = (("kind", "train"), ("state", "succeeded"))
    assert samples[("atrium_job_duration_seconds_count", train_ok)] == 2
    assert samples[("atrium_job_duration_seconds_sum", train_ok)] == pytest.approx(4045.0)
    # unfinished jobs have no duration, but they are counted by state
    assert ("atrium_job_duration_seconds_count", (("kind", "infer"), ("state", "running"))) not in samples
    assert samples[("atrium_jobs", (("kind", "infer"), ("state", "running")))] == 1
    assert samples[("atrium_jobs", (("kind", "train"), ("state", "queued")))] == 1
    assert samples[("atrium_jobs", (("kind", "train"), ("state", "succeeded")))] == 2


def test_with_a_token_configured_metrics_need_the_bearer_token(client, db, settings):
    settings.ATRIUM_METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    samples = scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert ("atrium_collector_up", (("collector", "jobs"),)) in samples


def test_the_token_can_come_from_a_file_as_kubernetes_mounts_it(client, db, settings, tmp_path, monkeypatch):
    if hasattr(settings, "ATRIUM_METRICS_TOKEN"):
        del settings.ATRIUM_METRICS_TOKEN
    token_file = tmp_path / "metrics-token"
    token_file.write_text("from-a-file\n")
    monkeypatch.setenv("ATRIUM_METRICS_TOKEN_FILE", str(token_file))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer from-a-file").status_code == 200


def test_metrics_answer_only_get(client, db):
    assert client.post("/metrics").status_code == 405
