"""The Celery application. Broker and backend come from settings (Redis, or the filesystem transport)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.local")

app = Celery("atrium")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The filesystem transport has no fan-out; remote control is not needed by the platform.
app.conf.worker_enable_remote_control = False
app.autodiscover_tasks()


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
