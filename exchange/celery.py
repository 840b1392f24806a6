"""Celery app for background jobs that are not matching (e.g. sandbox withdrawals).

Without REDIS_URL tasks run eagerly in the calling process (settings)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")

app = Celery("exchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
