"""One log record per request: method, path, status, time, SQL count, page cache, shed.

For a person watching `make run` (`toolkit.consolelog` prints it as one short line) and
for a log shipper alike (`toolkit.jsonlog`: the same fields as JSON). Off unless
`PEAKSTORE_ACCESS_LOG=1`: the stack runner turns it on for `make run` and `make demo`;
production servers have their proxy's access log, and a warm page should not pay for a
second one.

A person cannot read thousands of lines a second, and writing them would cost a warm
page a fifth of its time. With `PEAKSTORE_ACCESS_LOG_LINES_PER_SECOND` set (the console
format sets it), each process logs that many requests a second; the rest of the second
are counted, and the first request of a later second logs one summary line for them
(`+1,204 requests not shown: 1,198 hit, 6 miss`). A 5xx is always logged, but for a
shed 503: an overload sheds hundreds a second, and those are summed up with the rest
(`+830 requests not shown: 512 shed, 318 hit`). The JSON format (log shippers) logs
every request.

It sits right after the request id, so it sees every answer: shed ones (admission
control marks them with `X-Peakstore-Shed`), page-cache hits, errors. The SQL count and
the page cache's verdict are left in `request.META` by the request metrics
(`toolkit.metrics.http`) and the page cache (`toolkit.cache.http`, the storefront's fast
path) under the names below; the log shows nothing for what they did not say.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase
from django.utils.encoding import escape_uri_path, iri_to_uri

from toolkit.consolelog import ACCESS_LOGGER

QUERIES_META = "peakstore.queries"  # int: statements the request ran
PAGE_CACHE_META = "peakstore.page_cache"  # "hit" or "miss", for cached pages only
SHED_HEADER = "X-Peakstore-Shed"
MAX_PATH = 200  # a visitor's 5,000-character query string is not worth a screen

logger = logging.getLogger(ACCESS_LOGGER)
_now = time.monotonic  # the budget's clock (tests move it)


class AccessLogMiddleware:
    """Log every request once it is answered (see the module docstring).

    The per-second budget is per process and unlocked: gunicorn's sync workers serve one
    request at a time, and under threads a miscount only moves a summary's figures.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        if not settings.PEAKSTORE_ACCESS_LOG:
            raise MiddlewareNotUsed("PEAKSTORE_ACCESS_LOG is off")
        self.get_response = get_response
        self.lines_per_second: int | None = settings.PEAKSTORE_ACCESS_LOG_LINES_PER_SECOND
        self._second = 0  # the monotonic second the budget counts
        self._lines = 0  # lines logged in that second
        self._held: Counter[str] = Counter()  # requests not shown, by outcome

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # As the visitor asked: the page cache drops the parameters a page does not read.
        # The full path is built only for a request that gets its line (2-4 µs a request).
        query = request.META.get("QUERY_STRING", "")
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        budget = self.lines_per_second
        if budget is not None and not self._within_budget(budget, request, response):
            return response
        path = _path_as_asked(request, query)
        if len(path) > MAX_PATH:
            path = f"{path[:MAX_PATH]}..."
        logger.info(
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": round(elapsed_ms, 1),
                "queries": request.META.get(QUERIES_META),
                "page_cache": request.META.get(PAGE_CACHE_META, ""),
                "shed": response.get(SHED_HEADER, ""),
            },
        )
        return response

    def _within_budget(self, budget: int, request: HttpRequest, response: HttpResponseBase) -> bool:
        """Whether this request gets its own line; counts it for a summary if not."""
        second = int(_now())
        if second != self._second:
            if self._held:
                self._summarise()
            self._second, self._lines = second, 0
        shed = response.has_header(SHED_HEADER)
        # Errors always show; a shed 503 is admission control at work, not an error, and
        # an overload sheds hundreds a second: a line each would cost what shedding saves.
        if self._lines < budget or (response.status_code >= 500 and not shed):
            self._lines += 1
            return True
        outcome = (
            "shed"
            if shed
            else request.META.get(PAGE_CACHE_META) or f"{response.status_code // 100}xx"
        )
        self._held[outcome] += 1
        return False

    def _summarise(self) -> None:
        held, self._held = self._held, Counter()
        logger.info(
            "%d requests not shown",
            held.total(),
            extra={"held": dict(held.most_common())},
        )


def _path_as_asked(request: HttpRequest, query: str) -> str:
    """`request.get_full_path()` with the query string as it arrived."""
    path = escape_uri_path(request.path)
    return f"{path}?{iri_to_uri(query)}" if query else path
