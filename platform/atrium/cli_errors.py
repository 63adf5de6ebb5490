"""Run a management command; bad configuration becomes one clear line and exit status 2."""

from __future__ import annotations

import sys

from django.core.exceptions import ImproperlyConfigured


def describe_database_error(exc: BaseException) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    where = db.get("HOST") or db.get("NAME")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    engine = str(db["ENGINE"]).rsplit(".", 1)[-1]
    return f"cannot reach the database at {where}{port} ({engine}): {reason}"


def run_reporting_config_errors(argv: list[str]) -> None:
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        print(f"atrium: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OperationalError as exc:
        print(f"atrium: {describe_database_error(exc)}", file=sys.stderr)
        sys.exit(2)
