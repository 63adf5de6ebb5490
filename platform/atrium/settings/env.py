"""Read settings from the environment and fail loudly, in one line, when they are wrong."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | object = _MISSING) -> str:
    """A string setting; `NAME_FILE` (a path, as Kubernetes secrets mount them) is read when set."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path} cannot be read: {exc.strerror}") from None
    value = os.environ.get(name)
    if value is None:
        if default is _MISSING:
            raise ImproperlyConfigured(f"environment variable {name} is required but not set")
        return str(default)
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"environment variable {name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"environment variable {name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str] | object = _MISSING) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        if default is _MISSING:
            raise ImproperlyConfigured(f"environment variable {name} is required but not set")
        return list(default)  # type: ignore[call-overload, arg-type]
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url: str) -> dict[str, object]:
    """A Django DATABASES entry from `postgres://user:pass@host:port/name` (psycopg 3)."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use postgres://user@host:port/name)"
        )
    name = parsed.path.lstrip("/")
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database (postgres://user@host:port/NAME)")
    entry: dict[str, object] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(name),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 5},
    }
    pool_size = env_int("ATRIUM_DB_POOL", 0)
    if pool_size < 0:
        raise ImproperlyConfigured(f"ATRIUM_DB_POOL={pool_size} must be 0 (no pool) or a pool size")
    if pool_size:
        # Requests run on pooled threads (atrium.asgi_handler), each keeping its persistent connection, so
        # the default needs no pool; a pool bounds the sessions when many threads are started (bursts, many
        # processes). Django's pool needs CONN_MAX_AGE 0; CONN_HEALTH_CHECKS checks a connection on checkout.
        entry["CONN_MAX_AGE"] = 0
        entry["OPTIONS"] = {
            "connect_timeout": 5,
            "pool": {"min_size": min(2, pool_size), "max_size": pool_size, "timeout": 10},
        }
    return entry
