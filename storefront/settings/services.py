"""Services profile: PostgreSQL, Redis (django-redis) and a real Celery broker."""

from typing import Any

import dj_database_url

from storefront.settings.base import *  # noqa: F403
from storefront.settings.environment import ENV

DATABASES = {
    # A plain dict, the type the embedded profile's DATABASES has.
    "default": dict(
        dj_database_url.parse(ENV.database_url, conn_max_age=60, conn_health_checks=True)
    )
}

if ENV.redis_url:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": ENV.redis_url,
            "TIMEOUT": 300,
            "KEY_PREFIX": ENV.cache_key_prefix,
            "OPTIONS": {
                # An entry that no longer decodes (a class moved) is a miss, not an error.
                "CLIENT_CLASS": "toolkit.cache.backends.UndecodableAsMissRedisClient",
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                # A cache outage must not become a store outage: reads miss, writes
                # are dropped, and the error is logged (and counted by the toolkit).
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    # Owned caches: the same Redis and prefix, but failures raise, so the toolkit counts
    # them per namespace and serves from the database (TOOLKIT_CACHE_ALIAS).
    CACHES["toolkit"] = {
        **CACHES["default"],
        "OPTIONS": {**CACHES["default"]["OPTIONS"], "IGNORE_EXCEPTIONS": False},
    }
else:
    CACHES = {
        alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "peakstore"}
        for alias in ("default", "toolkit")
    }

CELERY_BROKER_URL = ENV.celery_broker_url or ENV.redis_url or "memory://"
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
