"""Production: the selected profile, hardened. Refuses to start without its secrets.

Unlike the local profiles, it never uses a key generated into the var dir
(settings/keyfile.py): the key is configured, as the hosts and ops access are.
"""

from django.core.exceptions import ImproperlyConfigured

from storefront.settings import *  # noqa: F403
from storefront.settings.base import logging_config
from storefront.settings.environment import ENV

_missing = [
    name
    for name, value in {
        "DJANGO_SECRET_KEY": ENV.secret_key,
        "DJANGO_ALLOWED_HOSTS": ENV.allowed_hosts,
        # /metrics and the probes say how the store is doing: never to anyone who asks.
        "PEAKSTORE_OPS_TOKEN or PEAKSTORE_OPS_ALLOWED_NETWORKS": (
            ENV.ops_token or ENV.ops_allowed_networks
        ),
    }.items()
    if not value
]
if _missing:
    raise ImproperlyConfigured(f"production settings need {', '.join(_missing)}")

DEBUG = False
# A production server runs gunicorn and Celery itself: no stack runner, seeding or load
# generator in its command list.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "devstack"]  # noqa: F405
SECRET_KEY = ENV.secret_key
ALLOWED_HOSTS = list(ENV.allowed_hosts)
# The load generator's identity header is for local stacks: never honoured here.
PEAKSTORE_LOADGEN_KEY = ""
# The failure-mode lab selects naive code on purpose: never in production.
PEAKSTORE_LAB = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
# Load balancers and Prometheus reach an instance over the private network, often in
# plain HTTP, and follow no redirect; these paths are restricted by ops access instead.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Log shippers read production's log: JSON whatever PEAKSTORE_LOG_FORMAT says.
LOGGING = logging_config("json")
PEAKSTORE_ACCESS_LOG_LINES_PER_SECOND = None
