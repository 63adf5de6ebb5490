"""Shared fixtures: named users per role, an API client per user, and a real Celery worker process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class People:
    """One named user per role. `outsider` belongs to no study; the others are members of `study`."""

    annotator: object
    annotator2: object
    ml_engineer: object
    study_lead: object
    admin: object
    outsider: object

    def all(self) -> dict[str, object]:
        return dict(self.__dict__)


@pytest.fixture
def study(db):
    from tests.factories import StudyFactory

    return StudyFactory(slug="cardiac-test", name="Cardiac test", task_kind="cardiac")


@pytest.fixture
def people(db, study) -> People:
    from atrium.accounts.services import add_member, create_user

    def make(name: str, role: str, member: bool = True):
        user = create_user(username=name, password=f"{name}-password", role=role)
        if member:
            add_member(user=user, study=study)
        return user

    return People(
        annotator=make("ann", "annotator"),
        annotator2=make("bob", "annotator"),
        ml_engineer=make("mel", "ml_engineer"),
        study_lead=make("lea", "study_lead"),
        admin=make("root", "admin", member=False),
        outsider=make("eve", "annotator", member=False),
    )


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _close_request_thread_connections():
    """Requests through the ASGI app run on pooled threads that keep their database connections; close
    them after each test, so none outlives its test's data or blocks dropping the test database."""
    yield
    asgi_handler = sys.modules.get("atrium.asgi_handler")
    if asgi_handler is not None:
        asgi_handler.request_threads.close_connections()


def pytest_sessionfinish(session, exitstatus):
    """Remove this run's folder (settings.test gives every run its own under var/test/)."""
    from django.conf import settings

    if Path(settings.VAR_DIR).name.startswith("run-"):
        shutil.rmtree(Path(settings.VAR_DIR), ignore_errors=True)


def start_worker(name: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A real `celery worker` process consuming both queues, pointed at the test database."""
    from django.conf import settings
    from django.db import connection

    from atrium.celery_app import worker_argv

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "atrium.settings.test",
        "ATRIUM_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "ATRIUM_VAR_DIR": str(settings.VAR_DIR),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
        **(extra_env or {}),
    }
    log_path = Path(settings.VAR_DIR) / f"worker-{name}.log"
    log = open(log_path, "w")
    worker = subprocess.Popen(
        worker_argv(f"{name}{os.getpid()}@%h"),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    worker.log_path = log_path  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()[-3000:]}")
        if "ready." in log_path.read_text():
            return worker
        time.sleep(0.2)
    worker.kill()
    raise RuntimeError(f"celery worker did not become ready:\n{log_path.read_text()[-3000:]}")


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    from django.conf import settings

    if str(settings.CELERY_BROKER_URL).startswith("filesystem://"):
        for key in ("data_folder_in", "processed_folder"):
            folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key])
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
    with django_db_blocker.unblock():
        worker = start_worker("session")
    yield worker
    stop_worker(worker)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll `predicate` until it returns a truthy value or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
