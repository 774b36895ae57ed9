"""The Celery app. Workers start with `celery -A storefront worker`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")

app = Celery("peakstore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
