"""Celery queue lengths, read from the broker: Redis lists (LLEN) or the filesystem transport's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

# kombu's Redis transport keeps one list per priority step: `queue`, then `queue\x06\x16<step>`.
_KOMBU_REDIS_SEPARATOR = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def queue_names() -> list[str]:
    """The queues the platform routes to (`gpu`, `cpu`), from the Celery settings."""
    names = {str(settings.CELERY_TASK_DEFAULT_QUEUE)}
    for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values():
        if isinstance(route, dict) and route.get("queue"):
            names.add(str(route["queue"]))
    return sorted(names)


def redis_keys(queue: str) -> list[str]:
    return [
        queue if step == 0 else f"{queue}{_KOMBU_REDIS_SEPARATOR}{step}" for step in _KOMBU_PRIORITY_STEPS
    ]


def redis_queue_lengths(url: str, queues: list[str], timeout_s: float = 2.0) -> dict[str, int]:
    import redis

    client: Any = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        with client.pipeline(transaction=False) as pipe:
            for queue in queues:
                for key in redis_keys(queue):
                    pipe.llen(key)
            lengths = pipe.execute()
    finally:
        client.close()
    steps = len(_KOMBU_PRIORITY_STEPS)
    return {queue: int(sum(lengths[i * steps : (i + 1) * steps])) for i, queue in enumerate(queues)}


def filesystem_queue_lengths(folder: Path, queues: list[str]) -> dict[str, int]:
    """kombu's filesystem transport writes one `<ms>_<uuid>.<queue>.msg` file per waiting message."""
    counts = dict.fromkeys(queues, 0)
    if not folder.is_dir():
        return counts
    for entry in folder.iterdir():
        queue_part = entry.name.partition(".")[2]
        if queue_part.endswith(".msg"):
            queue = queue_part.removesuffix(".msg")
            if queue in counts:
                counts[queue] += 1
    return counts


def queue_lengths() -> dict[str, int]:
    """Messages waiting in each queue (not those a worker has prefetched or is running)."""
    queues = queue_names()
    broker = str(settings.CELERY_BROKER_URL)
    if broker.startswith(("redis://", "rediss://", "unix://")):
        return redis_queue_lengths(broker, queues)
    if broker.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return filesystem_queue_lengths(folder, queues)
    raise ValueError(f"queue lengths are not supported for the broker {broker.split(':', 1)[0]!r}")
