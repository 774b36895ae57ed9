"""Benchmark: search p95 at 100,000 products vs 1,000, side by side on PostgreSQL.

`DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python manage.py bench_search` (with
`REDIS_URL` and `CELERY_BROKER_URL` too: the services profile needs all three)

1. Creates (once) two databases next to DATABASE_URL's, `peakstore_bench_search_1000`
   and `peakstore_bench_search_100000`, migrates and seeds them with `seed_store`
   (which ends with a full `search_reindex`); `--rebuild` drops and recreates them.
2. Times a full `search_reindex` of the large one (wall clock and peak memory).
3. Starts one worker process per database. The parent sends both the same requests to
   `GET /api/v1/search/` (words, two-word queries, filters, sorts, a second page via
   its cursor), alternating which goes first, and each worker times the request
   in-process with Django's test client. Every request starts with every owned cache
   retired, so facet counts and prices are computed each time: the worst case.

Prints p50/p95 per size and the ratio (target <= 2). Needs the services profile.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser

from perfstats.quantiles import percentiles

# The project root, where manage.py is: the seeding and the workers run as its commands.
BASE_DIR = Path(__file__).resolve().parents[3]

ADJECTIVES = ("alpine", "summit", "trail", "urban", "nordic", "storm", "glacier", "swift")
NOUNS = ("tent", "jacket", "headlamp", "backpack", "running", "stove", "helmet", "yoga")
CATEGORIES = ("outdoor", "footwear", "tents", "jackets", "electronics", "trail-running-shoes")


def _requests() -> list[dict]:
    """The request mix: the same list for both databases."""
    mix: list[dict] = []
    for noun in NOUNS:
        mix.append({"q": noun})
    for adjective, noun in zip(ADJECTIVES, NOUNS, strict=True):
        mix.append({"q": f"{adjective} {noun}"})
        mix.append({"q": adjective[:3]})
    for category, noun in zip(CATEGORIES, NOUNS, strict=False):
        mix.append({"q": noun, "category": category, "in_stock": "true"})
    for sort in ("price_asc", "price_desc", "newest", "popular"):
        mix.append({"q": "pro", "sort": sort})
    mix.append({"q": "max", "price_min": "20", "price_max": "80"})
    mix.append({"q": "lite", "attr": "colour:black"})
    for noun in NOUNS[:4]:
        mix.append({"q": noun, "_next": True})
    return mix


def _database_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _manage(args: list[str], database_url: str, **options) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env=env,
        cwd=BASE_DIR,
        check=True,
        text=True,
        **options,
    )


def _pipes(worker: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    """Return a worker's stdin and stdout; `_compare` starts every worker with both piped."""
    assert worker.stdin is not None
    assert worker.stdout is not None
    return worker.stdin, worker.stdout


class Command(BaseCommand):
    help = "Search p95 at a small and a large catalog on PostgreSQL, interleaved."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--small", type=int, default=1_000)
        parser.add_argument("--large", type=int, default=100_000)
        parser.add_argument("--rounds", type=int, default=10)
        parser.add_argument("--rebuild", action="store_true")
        parser.add_argument("--skip-reindex", action="store_true")
        parser.add_argument("--worker", action="store_true", help=("internal: serve timings"))

    def handle(self, *args, **options) -> None:
        if options["worker"]:
            return self._serve()
        base = os.environ.get("DATABASE_URL", "")
        if not base.startswith("postgres"):
            self.stdout.write("bench_search skipped: it measures PostgreSQL (set DATABASE_URL).")
            return None
        urls = {}
        for size in (options["small"], options["large"]):
            urls[size] = self._prepare(base, size, rebuild=options["rebuild"])
        if not options["skip_reindex"]:
            self._reindex(urls[options["large"]], options["large"])
        self._compare(urls, options["small"], options["large"], rounds=options["rounds"])

    def _prepare(self, base: str, size: int, *, rebuild: bool) -> str:
        name = f"peakstore_bench_search_{size}"
        url = _database_url(base, name)
        with psycopg.connect(_database_url(base, "postgres"), autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if exists and rebuild:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = None
            if not exists:
                admin.execute(f'CREATE DATABASE "{name}"')
        _manage(["migrate", "-v0"], url)
        started = time.perf_counter()
        seeded = _manage(
            ["seed_store", "--products", str(size), "--if-empty"], url, capture_output=True
        )
        if "already seeded" not in seeded.stdout:
            self.stdout.write(
                f"seeded {size:,} products in {time.perf_counter() - started:.0f} s ({name})"
            )
        return url

    def _reindex(self, url: str, size: int) -> None:
        done = _manage(["search_reindex"], url, capture_output=True)
        summary = done.stdout.strip().splitlines()[-1].split("\r")[-1]
        self.stdout.write(f"full reindex at {size:,} products: {summary}")

    def _compare(self, urls: dict[int, str], small: int, large: int, *, rounds: int) -> None:
        workers = {
            size: subprocess.Popen(
                [sys.executable, str(BASE_DIR / "manage.py"), "bench_search", "--worker"],
                env={**os.environ, "DATABASE_URL": url},
                cwd=BASE_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for size, url in urls.items()
        }
        samples: dict[int, list[float]] = {small: [], large: []}
        degraded: dict[int, int] = {small: 0, large: 0}
        try:
            mix = _requests()
            for index in range(rounds * len(mix)):
                request = mix[index % len(mix)]
                order = (small, large) if index % 2 == 0 else (large, small)
                for size in order:
                    answer = self._ask(workers[size], request)
                    samples[size].append(answer["ms"])
                    degraded[size] += answer["degraded"]
        finally:
            for worker in workers.values():
                _pipes(worker)[0].close()
                worker.wait(timeout=30)
        self.stdout.write(f"{len(samples[small])} requests per size, interleaved:")
        p95 = {}
        for size in (small, large):
            ms = samples[size]
            p50, p95[size] = percentiles(ms, 0.50, 0.95)
            self.stdout.write(
                f"  {size:>7,} products: p50 {p50:6.2f} ms, p95 {p95[size]:6.2f} ms, "
                f"max {max(ms):6.2f} ms, degraded {degraded[size]}"
            )
        ratio = p95[large] / p95[small]
        verdict = "within" if ratio <= 2 else "NOT within"
        self.stdout.write(f"p95 ratio {large:,} / {small:,} products: {ratio:.2f} ({verdict} 2x)")
        if ratio > 2:
            raise CommandError("search p95 target missed")

    def _ask(self, worker: subprocess.Popen[str], request: dict[str, Any]) -> dict[str, Any]:
        stdin, stdout = _pipes(worker)
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise CommandError("a benchmark worker died")
        return json.loads(line)

    def _serve(self) -> None:
        """Worker: answer each request line with its timing, measured in-process."""
        from django.test import Client

        from toolkit.cache import registry

        client = Client()
        out = sys.stdout
        for raw in sys.stdin:
            request = json.loads(raw)
            follow = request.pop("_next", False)
            path = f"/api/v1/search/?{urlencode(request)}"
            registry.retire_all()
            if follow:
                first = client.get(path).json()
                path = first["next"] or path
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            body = response.json()
            if response.status_code != 200:
                raise CommandError(f"{path}: {response.status_code} {body}")
            out.write(json.dumps({"ms": elapsed, "degraded": bool(body["degraded"])}) + "\n")
            out.flush()
