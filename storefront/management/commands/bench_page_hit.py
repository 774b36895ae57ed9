"""Measure what a warm page-cache hit costs inside the process, and how much is the cache.

`python manage.py bench_page_hit` runs warm requests for the home, the largest category,
the most popular product and `robots.txt` through the WSGI application in this process
(all middleware, the page cache's fast path, the metrics), on the profile the
environment selects and the database it names, which must be seeded (`make run` or
`make demo` seed it). For each page it prints the microseconds per hit (the fastest of
several batches: the least disturbed by other work on the machine), the cache calls
one hit makes and the microseconds spent in them (a hot hit makes none: the epoch is
kept in memory while it stands, `toolkit.cache.tracking`). No server and no
network: the figure is the store's own cost, which `bench_throughput` puts next to
gunicorn's.
"""

import io
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.interface import category_tree, product_cards_popular

_TIMED_METHODS = ("get", "get_many", "set", "set_many", "add", "incr", "delete")


@dataclass
class CacheTally:
    calls: int = 0
    seconds: float = 0.0
    depth: int = 0


@contextmanager
def cache_calls_timed() -> Iterator[CacheTally]:
    """Count and time every call on the configured caches while the block runs."""
    tally = CacheTally()
    patched = []
    for alias in settings.CACHES:
        backend = caches[alias]
        for name in _TIMED_METHODS:
            original = getattr(backend, name)
            setattr(backend, name, _timed(original, tally))
            patched.append((backend, name))
    try:
        yield tally
    finally:
        for backend, name in patched:
            delattr(backend, name)  # the instance attribute shadowed the class's method


def _timed(method: Callable, tally: CacheTally) -> Callable:
    def timed(*args, **kwargs):
        if tally.depth:  # get_many made of gets (diskcache): one call, the outer one
            return method(*args, **kwargs)
        tally.depth += 1
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            tally.depth -= 1
            tally.calls += 1
            tally.seconds += time.perf_counter() - started

    return timed


def _environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench_page_hit",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }


class Command(BaseCommand):
    help = "Microseconds and cache calls per warm page-cache hit, in this process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=1000, help="per batch")
        parser.add_argument("--batches", type=int, default=7)

    def handle(self, *args: object, **options: int) -> None:
        application = WSGIHandler()
        pages = self._pages()
        self.stdout.write(
            f"{settings.PEAKSTORE_PROFILE} profile, cache {caches['toolkit'].__class__.__name__}"
        )
        self.stdout.write(f"{'page':<34} {'us/hit':>8} {'cache calls':>12} {'us in cache':>12}")
        for path in pages:
            status = self._serve(application, path)
            if not status.startswith("200"):
                raise CommandError(f"{path} answered {status}")
            self._serve(application, path)  # warm: the second answer is a hit
            best = min(
                self._batch(application, path, options["requests"])
                for _ in range(options["batches"])
            )
            with cache_calls_timed() as tally:
                self._batch(application, path, options["requests"])
            calls = tally.calls / options["requests"]
            in_cache = tally.seconds / options["requests"] * 1e6
            self.stdout.write(f"{path:<34} {best:>8.1f} {calls:>12.1f} {in_cache:>12.1f}")

    def _pages(self) -> list[str]:
        tree = category_tree()
        popular = product_cards_popular(limit=1)
        if not tree or not popular:
            raise CommandError("the database has no catalog: `make run` or seed_store first")
        top = [category for category in tree if category.parent_id is None]
        return ["/", f"/c/{top[0].slug}/", f"/p/{popular[0].slug}/", "/robots.txt"]

    @staticmethod
    def _serve(application: WSGIHandler, path: str) -> str:
        answer: list[str] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> Callable[[bytes], object]:
            answer.append(status)
            return lambda data: None  # WSGI's write(): Django never calls it

        body = application(_environ(path), start_response)
        b"".join(body)
        body.close()
        return answer[0]

    def _batch(self, application: WSGIHandler, path: str, requests: int) -> float:
        """Microseconds per request over one batch."""
        started = time.perf_counter()
        for _ in range(requests):
            self._serve(application, path)
        return (time.perf_counter() - started) / requests * 1e6
