"""Services profile: PostgreSQL, Redis (django-redis) and a real Celery broker.

`DATABASE_URL` selects it, and then it needs all three: without REDIS_URL every worker
would keep a cache of its own (breakers, page cache and throttles no longer shared), and
without CELERY_BROKER_URL tasks would sit in one process's memory and be lost. It refuses
to start rather than run like that; the embedded profile needs nothing.
"""

from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from storefront.settings.base import *  # noqa: F403
from storefront.settings.environment import ENV

_missing = [
    name
    for name, value in {
        "REDIS_URL": ENV.redis_url,
        "CELERY_BROKER_URL": ENV.celery_broker_url,
    }.items()
    if not value
]
if _missing:
    raise ImproperlyConfigured(
        f"the services profile (DATABASE_URL is set) also needs {' and '.join(_missing)}; "
        "unset DATABASE_URL for the embedded profile, which needs no server"
    )

DATABASES = {
    # A plain dict, the type the embedded profile's DATABASES has.
    "default": dict(
        dj_database_url.parse(ENV.database_url, conn_max_age=60, conn_health_checks=True)
    )
}

# One alias per streaming standby; the test database of each mirrors the primary's.
for _number, _url in enumerate(ENV.database_replica_urls):
    DATABASES[f"replica_{_number}"] = {
        **dj_database_url.parse(_url, conn_max_age=60, conn_health_checks=True),
        # A replica that does not answer costs one second, then leaves rotation.
        "OPTIONS": {"connect_timeout": 1},
        "TEST": {"MIRROR": "default"},
    }
TOOLKIT_DB_REPLICAS = tuple(f"replica_{n}" for n in range(len(ENV.database_replica_urls)))

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
CELERY_BROKER_URL = ENV.celery_broker_url
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
