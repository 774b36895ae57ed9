"""Measure read replicas for real: a stack on a throwaway primary and streaming standby.

`python manage.py bench_replica` starts its own PostgreSQL pair (devstack/pgpair.py, the
server tools as in the tests), a private redis-server for cache and broker, and a stack
with `DATABASE_REPLICA_URL` set. Then, against that stack only:

1. caught up, it reads every page and endpoint that shows one product's price and
   reports the share of routed reads the replica served;
2. it pauses the standby's replay for `--pause` seconds (30 by default) while it changes
   the price every 2 s and reads every page and endpoint right after each change, and
   counts stale answers (the old price, or not the new one): the target is 0;
3. it times how long after the pause the replica left rotation (target: within its lag
   limit plus one check interval and a poll), and how long after resuming it came back.

Exits non-zero on a missed target. Nothing here touches the shared servers.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client.parser import text_string_to_metric_families

from devstack.pgpair import PostgresPair, missing_reason, postgres_bin_dir
from devstack.processes import Stack, StackConfig, free_port, loopback_open
from loadtests.identity import client_headers
from storefront.settings.environment import BASE_DIR

TOKEN = uuid.uuid4().hex
LOADGEN_KEY = uuid.uuid4().hex
MAX_LAG_S = 5.0
CHECK_INTERVAL_S = 1.0
POLL_S = 0.2


def _http(method: str, url: str, payload: dict | None = None) -> tuple[int, str]:
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {**client_headers(uuid.uuid4().hex, LOADGEN_KEY), "Content-Type": "application/json"}
    if "/backoffice/" in url:
        headers["Authorization"] = f"Bearer {TOKEN}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with loopback_open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _samples(base_url: str) -> dict[tuple[str, tuple], float]:
    _, body = _http("GET", f"{base_url}/metrics")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def _routed(samples: dict, target: str) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "peakstore_db_reads_routed_total" and ("target", target) in labels
    )


def _rotation(base_url: str) -> tuple[float, float]:
    samples = _samples(base_url)
    alias = (("alias", "replica_0"),)
    return (
        samples.get(("peakstore_db_replica_in_rotation", alias), -1),
        samples.get(("peakstore_db_replica_lag_seconds", alias), -1),
    )


class Command(BaseCommand):
    help = "Measure replica routing, staleness under paused replay, and rotation times."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pause", type=float, default=30.0, help="seconds replay is paused")
        parser.add_argument("--products", type=int, default=200)

    def handle(self, *args: object, pause: float, products: int, **_: object) -> None:
        if reason := missing_reason():
            raise CommandError(reason)
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise CommandError("redis-server is not installed (apt-get install redis-server)")
        bin_dir = postgres_bin_dir()
        assert bin_dir is not None
        pair = PostgresPair(bin_dir)
        work = Path(tempfile.mkdtemp(prefix="peakstore-bench-replica-"))
        redis_port = free_port()
        redis = subprocess.Popen(
            [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        try:
            pair.start()
            env = {
                "DATABASE_URL": pair.primary_url,
                "DATABASE_REPLICA_URL": pair.standby_url,
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/1",
                "PEAKSTORE_VAR_DIR": str(work / "var"),
                "PEAKSTORE_BACKOFFICE_TOKEN": TOKEN,
                "PEAKSTORE_LOADGEN_KEY": LOADGEN_KEY,
                "PEAKSTORE_REPLICA_MAX_LAG": str(MAX_LAG_S),
                "PEAKSTORE_REPLICA_CHECK_INTERVAL": str(CHECK_INTERVAL_S),
                "DJANGO_SETTINGS_MODULE": "storefront.settings",
            }
            self._manage(env, "migrate", "--noinput")
            self._manage(env, "seed_store", "--products", str(products), "--seed", "3")
            pair.wait_caught_up()
            config = StackConfig(
                port=free_port(), simulator_port=free_port(), env=env, log_dir=work / "log"
            )
            with Stack(config):
                self._measure(config.base_url, pair, pause=pause)
        finally:
            pair.stop()
            redis.terminate()
            redis.wait(timeout=10)
            shutil.rmtree(work, ignore_errors=True)

    def _manage(self, env: dict[str, str], *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=600,
        )

    def _urls(self, base_url: str) -> tuple[str, list[str]]:
        _, body = _http("GET", f"{base_url}/api/v1/products/")
        for product in json.loads(body)["results"]:
            _, detail_body = _http("GET", f"{base_url}/api/v1/products/{product['slug']}/")
            detail = json.loads(detail_body)
            if len(detail["variants"]) == 1:
                slug, word = product["slug"], product["name"].split()[0]
                urls = [
                    f"/p/{slug}/",
                    f"/c/{detail['category']['slug']}/",
                    f"/api/v1/products/{slug}/",
                    f"/search/?q={word}",
                    f"/api/v1/search/?q={word}",
                ]
                return detail["variants"][0]["sku"], urls
        raise CommandError("no one-variant product on the first API page")

    def _stale(self, base_url: str, urls: list[str], *, new: str, old: str) -> int:
        stale = 0
        for url in urls:
            status, body = _http("GET", f"{base_url}{url}")
            if status != 200 or new not in body or old in body:
                stale += 1
        return stale

    def _measure(self, base_url: str, pair: PostgresPair, *, pause: float) -> None:
        out = self.stdout.write
        sku, urls = self._urls(base_url)
        amounts = (f"{800 + n}.{10 + n % 80}" for n in range(10_000))
        old = next(amounts)
        _http("PUT", f"{base_url}/backoffice/v1/prices/{sku}", {"amount": old})
        pair.wait_caught_up()
        time.sleep(CHECK_INTERVAL_S * 2)

        before = _samples(base_url)
        for _ in range(5):
            for url in urls:
                _http("GET", f"{base_url}{url}")
            _http("GET", f"{base_url}/c/{urls[1].split('/')[2]}/?page=2")
        after = _samples(base_url)
        replica = _routed(after, "replica") - _routed(before, "replica")
        primary = _routed(after, "primary") - _routed(before, "primary")
        share = replica / (replica + primary) if replica + primary else 0.0
        out(f"caught up: {replica:.0f} of {replica + primary:.0f} routed reads on the replica "
            f"({share:.0%})")  # fmt: skip

        pair.replay_pause()
        paused_at = time.monotonic()
        stale = reads = 0
        left_after = None
        lag_when_left = None
        next_write = paused_at
        try:
            while (now := time.monotonic()) - paused_at < pause:
                if now >= next_write:
                    new = next(amounts)
                    _http("PUT", f"{base_url}/backoffice/v1/prices/{sku}", {"amount": new})
                    stale += self._stale(base_url, urls, new=new, old=old)
                    reads += len(urls)
                    old = new
                    next_write = now + 2.0
                if left_after is None:
                    in_rotation, lag = _rotation(base_url)
                    if in_rotation == 0:
                        left_after, lag_when_left = time.monotonic() - paused_at, lag
                time.sleep(POLL_S)
        finally:
            pair.replay_resume()
        resumed_at = time.monotonic()
        back_after = None
        while time.monotonic() - resumed_at < 60:
            if _rotation(base_url)[0] == 1:
                back_after = time.monotonic() - resumed_at
                break
            time.sleep(POLL_S)
        stale += self._stale(base_url, urls, new=old, old="no-old-price")
        reads += len(urls)

        bound = MAX_LAG_S + CHECK_INTERVAL_S + 2 * POLL_S + 1.0
        out(f"replay paused {pause:.0f}s: {stale} stale of {reads} reads after price changes")
        out(
            f"left rotation {left_after if left_after is None else f'{left_after:.1f}s'} after "
            f"the pause (lag then {lag_when_left}s; limit {MAX_LAG_S}s, check every "
            f"{CHECK_INTERVAL_S}s; target <= {bound:.1f}s)"
        )
        out(f"back in rotation {back_after if back_after is None else f'{back_after:.1f}s'} "
            "after resuming")  # fmt: skip
        if stale or left_after is None or left_after > bound or back_after is None:
            raise CommandError("a replica target was missed")
