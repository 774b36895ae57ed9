"""What the whole-stack benchmarks share: a throwaway environment and CPU accounting.

`bench_environment` gives a run its own var dir and, on the services profile, its own
database, cache key prefix and Celery queue beside the shared servers, with every switch
at its shipped value, and removes all of it afterwards. `gunicorn_cpu_seconds` reads
what a gunicorn master and its workers spent, from /proc.
"""

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from kombu import Connection
from psycopg import sql

from storefront.settings.environment import ENV

# The switches a benchmark forces to what `make run` ships, whatever the shell exports.
SHIPPED_SWITCHES = {
    "PEAKSTORE_ADMISSION": "1",
    "PEAKSTORE_METRICS_ENABLED": "1",
    "INTEGRATIONS_RESILIENCE": "1",
    "DJANGO_DEBUG": "0",
}


def gunicorn_cpu_seconds(master_pid: int) -> float:
    """Return the user + system CPU seconds a gunicorn master and its live workers used."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    ticks = 0
    for pid in (str(master_pid), *children):
        with suppress(FileNotFoundError):  # a worker that exited meanwhile
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _database_url(name: str) -> str:
    return urlunsplit(urlsplit(ENV.database_url)._replace(path=f"/{name}"))


def _database_drop(name: str) -> None:
    with psycopg.connect(ENV.database_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _shared_services_clean(tag: str) -> None:
    """Delete this run's cache keys and Celery queue; best effort: leftovers expire or idle."""
    with suppress(Exception):
        client = redis.Redis.from_url(ENV.redis_url)
        for key in client.scan_iter(match=f"{tag}:*", count=1000):
            client.delete(key)
    with suppress(Exception), Connection(ENV.celery_broker_url, connect_timeout=5) as broker:
        # The AMQP transport's channel; the stubs type the transports' common base.
        broker.default_channel.queue_delete(tag)  # type: ignore[attr-defined]


def _services_env(cleanup: ExitStack, write: Callable[[str], object]) -> dict[str, str]:
    """Create a throwaway database beside DATABASE_URL's; name this run's prefix and queue.

    The PostgreSQL, Redis and broker servers are shared: only what this run created is
    dropped afterwards, and nothing else on them is touched.
    """
    tag = f"peakstore-bench-{os.getpid()}"
    name = tag.replace("-", "_")
    _database_drop(name)  # a crashed run with the same pid may have left it
    with psycopg.connect(ENV.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    cleanup.callback(_database_drop, name)
    if ENV.redis_url or ENV.celery_broker_url:
        cleanup.callback(_shared_services_clean, tag)
    write(f"services profile: throwaway database {name}, cache prefix and queue {tag}")
    return {
        "DATABASE_URL": _database_url(name),
        "PEAKSTORE_CACHE_KEY_PREFIX": tag,
        "PEAKSTORE_CELERY_QUEUE": tag,
    }


@contextmanager
def bench_environment(
    *, var_dir: Path | None, keep: bool, write: Callable[[str], object]
) -> Iterator[dict[str, str]]:
    """Yield the stack's environment overrides; remove what was made for this run after.

    A `var_dir` given is the caller's: it is kept (seeded once, reused next time).
    """
    with ExitStack() as cleanup:
        if var_dir is None:
            var_dir = Path(tempfile.mkdtemp(prefix="peakstore-bench-"))
            if keep:
                write(f"var dir kept for reuse: --var-dir {var_dir}")
            else:
                cleanup.callback(_remove_tree, var_dir)
        var_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **SHIPPED_SWITCHES,
            "PEAKSTORE_VAR_DIR": str(var_dir.resolve()),
            # Lets a benchmark's generator speak for many shoppers (loadtests/identity.py).
            "PEAKSTORE_LOADGEN_KEY": secrets.token_urlsafe(24),
        }
        if ENV.profile == "services":
            env |= _services_env(cleanup, write)
        yield env


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
