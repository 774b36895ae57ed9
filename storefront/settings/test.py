"""Test settings: the selected profile, plus nplusone raising on any lazy load."""

from storefront.settings import *  # noqa: F403
from storefront.settings import CACHES as _profile_caches
from storefront.settings.environment import ENV

DEBUG = False
INSTALLED_APPS = [*INSTALLED_APPS, "nplusone.ext.django"]  # noqa: F405
MIDDLEWARE = ["nplusone.ext.django.NPlusOneMiddleware", *MIDDLEWARE]  # noqa: F405
NPLUSONE_RAISE = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
# The read model refreshed at once, in the committing test (coalescing: tests/toolkit).
SEARCH_REFRESH_COALESCE_S = 0.0
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Serve static files from the finders on each request: tests never run collectstatic.
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Kept traces go to a ring of this run's own (the tracing tests read it).
import tempfile as _tempfile  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

PEAKSTORE_TRACING_RING_PATH = (
    _Path(_tempfile.mkdtemp(prefix="peakstore-test-traces-")) / "traces.sqlite3"
)

if ENV.profile == "embedded":
    # Each test run gets its own cache directory so parallel runs never share entries.
    import tempfile

    _cache_dir = tempfile.mkdtemp(prefix="peakstore-test-cache-")
    CACHES = {
        alias: {**config, "LOCATION": _cache_dir} for alias, config in _profile_caches.items()
    }
else:
    import os

    for _config in _profile_caches.values():
        _config["KEY_PREFIX"] = f"peakstore-test-{os.getpid()}"
    # Its own test database per run, so two suites (or a suite beside a demo) on one
    # PostgreSQL server never drop each other's database.
    DATABASES["default"]["TEST"] = {"NAME": f"test_peakstore_{os.getpid()}"}  # noqa: F405
