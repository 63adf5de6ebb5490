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
