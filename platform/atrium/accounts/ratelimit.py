"""A fixed-window rate limit over Django's cache (Redis when configured, so it holds across processes)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse


def hit(key: str, *, limit: int, window_s: int) -> tuple[bool, int]:
    """Count one event for `key`. Returns (allowed, seconds until the window resets)."""
    window = int(time.time() // window_s)
    cache_key = f"ratelimit:{key}:{window}"
    if cache.add(cache_key, 1, timeout=window_s + 5):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=window_s + 5)
            count = 1
    retry_after = window_s - int(time.time() % window_s)
    return count <= limit, retry_after


def peek(key: str, *, window_s: int) -> int:
    window = int(time.time() // window_s)
    return int(cache.get(f"ratelimit:{key}:{window}", 0))


PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'120/hour' -> (120, 3600). Raises ValueError naming the problem."""
    count, _, period = rate.strip().partition("/")
    seconds = PERIODS.get(period.strip().lower().rstrip("s")) if period else None
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ValueError(f"a rate must look like 120/hour (per second, minute, hour or day), got {rate!r}")
    return int(count), seconds


def upload_rate_limited(user: Any) -> JsonResponse | None:
    """Count one upload by `user`; a 429 response with Retry-After once they pass ATRIUM_UPLOAD_RATE."""
    limit, window = parse_rate(str(settings.ATRIUM_UPLOAD_RATE))
    allowed, retry_after = hit(f"upload-user:{user.pk}", limit=limit, window_s=window)
    if allowed:
        return None
    response = JsonResponse(
        {
            "detail": f"too many uploads: at most {settings.ATRIUM_UPLOAD_RATE} per user; "
            f"try again in {retry_after} s"
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
