"""The project's commands on a real interpreter: bad configuration is one line, production passes --deploy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(
    *args: str, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "atrium.settings.production",
    "SECRET_KEY": "k3y-" + "".join(chr(48 + (i * 7) % 75) for i in range(60)),
    "ALLOWED_HOSTS": "atrium.example.org",
}


def test_the_stdlib_platform_module_still_imports_from_the_repo_root():
    result = subprocess.run(
        [sys.executable, "-c", "import platform, uuid; print(platform.system())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_production_settings_pass_the_deploy_check():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_without_a_secret_key_fails_in_one_clear_line():
    env = {**PRODUCTION}
    del env["SECRET_KEY"]
    result = run_manage("check", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["atrium: configuration error: environment variable SECRET_KEY is required but not set"]


def test_several_server_processes_without_redis_fail_in_one_clear_line():
    result = run_manage("check", env={**PRODUCTION, "WEB_CONCURRENCY": "2", "REDIS_URL": ""})
    assert result.returncode == 2
    assert "WEB_CONCURRENCY > 1" in result.stderr and "REDIS_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_clear_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    result = run_manage("migrate", env={"DATABASE_URL": f"postgres://nobody@127.0.0.1:{port}/atrium"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"atrium: cannot reach the database at 127.0.0.1:{port}")


def test_the_demo_refuses_a_port_already_in_use_in_one_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_manage("rundemo", "--port", str(port), env={"DATABASE_URL": "", "REDIS_URL": ""})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"CommandError: port {port} on 127.0.0.1 is already in use; stop what runs there or pass --port N"
    ]


def test_models_and_migrations_agree():
    result = run_manage("makemigrations", "--check", "--dry-run", env={"DATABASE_URL": ""})
    assert result.returncode == 0, result.stdout + result.stderr
