"""Django's per-request signal work, trimmed to what a sync worker needs.

Django checks every database connection of the thread twice a request: on
`request_started` and on `request_finished` (`close_old_connections`: reset the health
check, close one past its age, in error or with autocommit left off). It also clears
`connection.queries` on `request_started` (`reset_queries`), and forgets the thread's
URLconf on `request_finished` (`reset_urlconf`).

In a gunicorn sync worker nothing runs between one request's end and the next one's
start, so:
- the end-of-request check already leaves each connection as the start check would:
  health check reset, errors and autocommit looked at. The start check differs only for
  a connection that reached its age while the worker waited; it is used once more (its
  health check still runs on first use) and closed at that request's end.
- the URLconf left current needs no forgetting: every request makes `ROOT_URLCONF`
  current before its first middleware runs (`BaseHandler.get_response`), and the store
  sets no per-request `request.urlconf`. Settings that change `ROOT_URLCONF` (tests)
  reset it through Django's own `setting_changed` receiver.
`connection.queries` only fills with DEBUG on or inside `CaptureQueriesContext`, which
connects `reset_queries` again itself.

With the start receivers gone, `request_started` has none and Django sends it at no
cost: a warm page-cache hit took 14-15 µs less in process (`bench_page_hit`: 90-94 µs
before, 74-80 after), about a sixth of it. `reset_urlconf` cost a hit 3-4 µs more
(an `asgiref.local.Local` attribute deleted, then set again by the next request).
"""

from django.core.handlers.base import reset_urlconf
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, reset_queries


def request_signals_trim(*, debug: bool) -> None:
    """Check connections when a request ends only; keep Django's query log reset with DEBUG."""
    request_started.disconnect(close_old_connections)
    request_finished.connect(close_old_connections)  # Django's own; connecting it is a no-op
    request_finished.disconnect(reset_urlconf)
    if debug:
        request_started.connect(reset_queries)  # Django's own; a no-op when connected
    else:
        request_started.disconnect(reset_queries)
