"""A fixed-window rate limit over Django's cache (Redis when configured, so it holds across processes)."""

from __future__ import annotations

import time

from django.core.cache import cache


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
