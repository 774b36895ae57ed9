"""One log record per request: method, path, status, time, SQL count, page cache, shed.

For a person watching `make run` (`toolkit.consolelog` prints it as one short line) and
for a log shipper alike (`toolkit.jsonlog`: the same fields as JSON). Off unless
`PEAKSTORE_ACCESS_LOG=1`: the stack runner turns it on for `make run` and `make demo`;
production servers have their proxy's access log, and a warm page should not pay for a
second one.

It sits right after the request id, so it sees every answer: shed ones (admission
control marks them with `X-Peakstore-Shed`), page-cache hits, errors. The SQL count and
the page cache's verdict are left in `request.META` by the request metrics
(`toolkit.metrics.http`) and the page cache (`toolkit.cache.http`, the storefront's fast
path) under the names below; the log shows nothing for what they did not say.
"""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase

from toolkit.consolelog import ACCESS_LOGGER

QUERIES_META = "peakstore.queries"  # int: statements the request ran
PAGE_CACHE_META = "peakstore.page_cache"  # "hit" or "miss", for cached pages only
SHED_HEADER = "X-Peakstore-Shed"
MAX_PATH = 200  # a visitor's 5,000-character query string is not worth a screen

logger = logging.getLogger(ACCESS_LOGGER)


class AccessLogMiddleware:
    """Log every request once it is answered (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        if not settings.PEAKSTORE_ACCESS_LOG:
            raise MiddlewareNotUsed("PEAKSTORE_ACCESS_LOG is off")
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # As the visitor asked: the page cache drops the parameters a page does not read.
        path = request.get_full_path()
        if len(path) > MAX_PATH:
            path = f"{path[:MAX_PATH]}..."
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
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
