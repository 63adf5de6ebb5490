"""The Celery application. Broker and backend come from settings (Redis, or the filesystem transport)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.local")

app = Celery("atrium")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The filesystem transport has no fan-out; remote control is not needed by the platform.
app.conf.worker_enable_remote_control = False
app.autodiscover_tasks()


def worker_argv(name: str) -> list[str]:
    """The command line of a worker on both queues, as the demo and the tests start it."""
    import sys

    return [
        sys.executable, "-m", "celery", "-A", "atrium.celery_app", "worker", "-Q", "cpu,gpu", "-P", "solo",
        "--without-mingle", "--without-gossip", "--loglevel", "INFO", "-n", name,
    ]  # fmt: skip


def _ensure_filesystem_broker_folders() -> None:
    from django.conf import settings

    if str(settings.CELERY_BROKER_URL).startswith("filesystem://"):
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
            if folder:
                os.makedirs(str(folder), exist_ok=True)
        os.makedirs(str(settings.CELERY_RESULT_BACKEND).removeprefix("file://"), exist_ok=True)


@app.on_after_configure.connect
def _prepare_broker(sender: Celery, **kwargs: object) -> None:
    _ensure_filesystem_broker_folders()


def _install_worker_metrics() -> None:
    from atrium.observability.worker import install

    install()


_install_worker_metrics()


@worker_ready.connect
def _recover_jobs(sender: object = None, **kwargs: object) -> None:
    """When a worker starts, re-dispatch jobs whose message or worker was lost, then keep sweeping."""
    import threading

    from django.conf import settings

    from atrium.learning.services import requeue_lost_jobs

    def sweep() -> None:
        from django.db import connection

        try:
            requeue_lost_jobs()
        except Exception:
            import logging

            logging.getLogger(__name__).exception("job recovery sweep failed")
        finally:
            connection.close()
        timer = threading.Timer(float(getattr(settings, "ATRIUM_JOB_SWEEP_S", 60)), sweep)
        timer.daemon = True
        timer.start()

    sweep()
