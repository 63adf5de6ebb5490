"""Liveness and readiness: ready checks the database, the channel layer / broker and the pixel store."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured (embedded default)"
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    return "ok"


def _check_storage() -> str:
    root = settings.PIXEL_STORE_ROOT
    root.mkdir(parents=True, exist_ok=True)
    probe = root / ".ready-probe"
    probe.write_bytes(b"ok")
    probe.unlink()
    if settings.ATRIUM_STORAGE == "s3":
        from django.core.files.storage import storages

        storages["default"].exists("health/ready-probe")  # raises when the bucket cannot be reached
        return "ok (local cache and object storage)"
    return "ok"


def ready(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    healthy = True
    for name, check in (("database", _check_database), ("redis", _check_redis), ("storage", _check_storage)):
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}: {exc}"
            healthy = False
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
