"""Database connections are checked when a request ends, not also when it starts; the
URLconf a request made current is left for the next one, which makes its own current."""

import io
import sys

from django.conf import settings
from django.core.handlers.base import reset_urlconf
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import connections, reset_queries
from django.urls import get_urlconf, reverse

from toolkit.request_cycle import request_signals_trim


def _wsgi_get(path: str) -> str:
    """GET `path` as gunicorn calls Django (the test client changes the signals' receivers)."""
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None):
        statuses.append(status)
        return lambda data: None

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    body = WSGIHandler()(environ, start_response)
    b"".join(body)
    body.close()  # what sends request_finished
    return statuses[0]


def test_a_request_checks_its_connections_once_when_it_ends(product, monkeypatch):
    request_signals_trim(debug=False)
    default = connections["default"]
    events: list[str] = []
    # Only recorded: a real check would close the connection of the test's transaction.
    monkeypatch.setattr(default, "close_if_unusable_or_obsolete", lambda: events.append("check"))

    def tally(execute, sql, params, many, context):
        events.append("query")
        return execute(sql, params, many, context)

    with default.execute_wrapper(tally):
        status = _wsgi_get("/p/trail-runner/")

    assert status.startswith("200")
    assert "query" in events
    assert events.count("check") == 1
    assert events[-1] == "check"


def test_request_started_costs_nothing_without_debug():
    request_signals_trim(debug=False)

    assert not request_started.has_listeners()


def test_with_debug_the_query_log_is_still_cleared_per_request():
    request_signals_trim(debug=True)
    try:
        assert reset_queries in [ref() for _, ref, *_ in request_started.receivers]
    finally:
        request_signals_trim(debug=False)


def test_request_finished_does_not_forget_the_urlconf():
    request_signals_trim(debug=False)

    assert reset_urlconf not in [ref() for _, ref, *_ in request_finished.receivers]


def test_the_urlconf_a_request_leaves_current_is_the_default_one(product):
    """What `reset_urlconf` guarded against: a request's own URLconf outliving it."""
    request_signals_trim(debug=False)

    assert _wsgi_get("/p/trail-runner/").startswith("200")

    assert get_urlconf() in (None, settings.ROOT_URLCONF)
    assert reverse("pages:product", args=["trail-runner"]) == "/p/trail-runner/"
