"""The Celery app. Workers start with `celery -A storefront worker`."""

import logging
import os
from logging.config import dictConfig
from typing import Any

from celery import Celery
from celery.signals import (
    beat_init,
    setup_logging,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
)

import toolkit.filebroker  # noqa: F401  # registers the embedded broker's wholefiles://
from toolkit import changes
from toolkit.metrics.celery import celery_observability_install
from toolkit.priority import serve_priority_restore_from_env

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")

app = Celery("peakstore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task outcomes, latency and the request id in task headers (toolkit.metrics.celery).
celery_observability_install()


@setup_logging.connect
def _logging_from_django_settings(loglevel: int | str | None = None, **_: Any) -> None:
    """Log from worker and beat as the web does (format, request id), not Celery's way.

    With a receiver connected, Celery leaves logging alone and this applies LOGGING,
    then the level `--loglevel` asked for (the stack runner asks WARNING for a person's
    terminal, so beat's schedule ticks and each task's "received" stay out of it).
    """
    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@worker_process_shutdown.connect
def _changes_flush(**_: Any) -> None:
    """A pool process leaves without running exit handlers: deliver coalesced changes first."""
    changes.flush()


def _serve_priority(**_: Any) -> None:
    """Booted: back to the CPU priority to serve at, where the stack started the process
    lowered (`devstack/processes.py`, `toolkit.priority`). Pool processes forked while
    their parent booted come back one by one."""
    serve_priority_restore_from_env()


worker_ready.connect(_serve_priority)
worker_process_init.connect(_serve_priority)
beat_init.connect(_serve_priority)
