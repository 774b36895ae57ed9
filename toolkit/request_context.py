"""The request id: taken from (or given to) `X-Request-ID`, carried wherever the work goes.

One context variable holds it. The middleware sets it for the request, the log filter
writes it on every record, the upstream client sends it on integration calls, and the
Celery hooks copy it into the headers of every task published while it is set, so the
worker's log lines for that task carry it too. Context variables are per thread (and per
asyncio task), so concurrent requests never see each other's id.
"""

import logging
import os
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from django.http import HttpRequest, HttpResponse

from toolkit.tracing import trace_id_get

REQUEST_ID_HEADER = "X-Request-ID"
# Read from META: `request.headers` would parse every header of every request.
_REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# The task header the id travels in (Celery copies custom headers onto `task.request`).
TASK_HEADER = "peakstore_request_id"
# What we accept from a client: an id to correlate with, never a way to inject into logs.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_request_id: ContextVar[str] = ContextVar("peakstore_request_id", default="")
# Request ids need to be unique, not secret (a client may choose its own). `os.urandom`
# is a `getrandom` system call, and inside a worker's request it took 15-18 µs, an
# eighth of a warm page hit (`bench_page_hit`), against 0.3 µs in a loop of its own. A
# generator of their own, so that the ids reveal nothing of the `random` module's
# stream, seeded from the OS at import and again in every forked child (gunicorn's
# workers): two workers never share a sequence.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def request_id_get() -> str:
    """Return the current request id, or "" outside any request or task."""
    return _request_id.get()


def request_id_new() -> str:
    """32 random hex digits (a uuid4's length, without building a UUID object)."""
    return f"{_ids.getrandbits(128):032x}"


def request_id_accept(candidate: str | None) -> str:
    """Return the client's id if it is a sane token, else a fresh one."""
    if candidate and _VALID_REQUEST_ID.fullmatch(candidate):
        return candidate
    return request_id_new()


def request_id_set(request_id: str) -> Token[str]:
    """Make `request_id` current until `request_id_reset(token)` (for split hooks)."""
    return _request_id.set(request_id)


def request_id_reset(token: Token[str]) -> None:
    _request_id.reset(token)


@contextmanager
def request_id_bound(request_id: str) -> Iterator[str]:
    """Make `request_id` current for the block (a request, a task, a script)."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)


class RequestIdMiddleware:
    """Bind the request's id for its whole handling and echo it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_accept(request.META.get(_REQUEST_ID_META))
        # set/reset rather than request_id_bound(): no generator on every request.
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Put the current request id and trace id on every record ("" when none).

    The trace id (32 hex digits, what `/ops/traces/<id>/` and any tracing backend look
    a trace up by) is the current span's, so a Celery task's lines carry the trace of
    the request that scheduled it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.trace_id = trace_id_get()
        return True
