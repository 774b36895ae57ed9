"""Embedded profile: no servers. SQLite in WAL mode, a disk cache and a filesystem broker.

WAL lets readers run beside the one writer; IMMEDIATE transactions take the write lock
at BEGIN, so two writers queue on the busy timeout instead of failing mid-transaction
with "database is locked" when one upgrades a read lock.
"""

from storefront.settings.base import *  # noqa: F403
from storefront.settings.environment import ENV

ENV.var_dir.mkdir(parents=True, exist_ok=True)

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ENV.var_dir / "peakstore.sqlite3",
        # Kept between requests: a new connection per request ran the five PRAGMAs below
        # and started with an empty 32 MB page cache every time, 5% of a web worker's
        # CPU under the campaign spike. Connections are per thread, as with PostgreSQL.
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;"
                "PRAGMA cache_size=-32000;"
                "PRAGMA foreign_keys=ON"
            ),
        },
    }
}

# One cache for all gunicorn workers and the Celery worker: diskcache keeps it in
# SQLite files under var/, so an entry one process writes is seen by the others.
CACHES = {
    "default": {
        # diskcache's backend, without closing its connections after every request.
        "BACKEND": "toolkit.cache.backends.PersistentDiskCache",
        "LOCATION": str(ENV.var_dir / "cache"),
        "TIMEOUT": 300,
        "SHARDS": 4,
        "DATABASE_TIMEOUT": 0.25,
        "OPTIONS": {"size_limit": 2**30},
    }
}
# Owned caches use their own alias on the same files (see TOOLKIT_CACHE_ALIAS).
CACHES["toolkit"] = CACHES["default"]

_broker_dir = ENV.var_dir / "broker"
for _folder in ("queue", "processed", "control"):
    (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)

# Kombu's filesystem transport, with each message written whole before it appears
# (toolkit/filebroker.py registers the scheme).
CELERY_BROKER_URL = ENV.celery_broker_url or "wholefiles://"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": str(_broker_dir / "queue"),
    "data_folder_out": str(_broker_dir / "queue"),
    "processed_folder": str(_broker_dir / "processed"),
    # Broadcast and remote-control messages; the transport would use ./control otherwise.
    "control_folder": str(_broker_dir / "control"),
    "store_processed": False,
    # The worker polls the folder, and with every pool slot busy (prefetch 1, late acks)
    # it sleeps one interval before taking more: 1 s (the default) caps it at
    # `concurrency` tasks a second, too few for a load run's order emails.
    "polling_interval": 0.1,
}
