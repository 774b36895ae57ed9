"""The request id: echoed, logged as JSON, carried into tasks and upstream calls."""

import json
import logging
import os
import re

from celery import shared_task
from django.test import override_settings

from storefront.celery import app as celery_app
from toolkit.jsonlog import MAX_FIELD, JsonFormatter
from toolkit.metrics.celery import _on_publish
from toolkit.request_context import (
    TASK_HEADER,
    RequestIdLogFilter,
    request_id_bound,
    request_id_get,
    request_id_new,
)

task_logger = logging.getLogger("tests.toolkit.task")


@shared_task
def log_inside_a_task() -> str:
    task_logger.info("inside the task")
    return request_id_get()


def test_the_client_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})

    assert response["X-Request-ID"] == "abc-123"


def test_a_missing_or_unsafe_request_id_is_replaced(client):
    fresh = client.get("/healthz")["X-Request-ID"]
    unsafe = client.get("/healthz", headers={"X-Request-ID": "x\nforged log line"})

    assert len(fresh) == 32
    assert unsafe["X-Request-ID"] != "x\nforged log line"
    assert len(unsafe["X-Request-ID"]) == 32


def test_fresh_request_ids_are_hex_and_differ_in_forked_workers():
    # gunicorn forks its workers from one master: each must draw ids of its own.
    request_id_new()  # the parent's generator has been used before the fork
    children = []
    for _ in range(2):
        read, write = os.pipe()
        if (pid := os.fork()) == 0:
            os.write(write, request_id_new().encode())
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        children.append(os.read(read, 64).decode())
        os.close(read)
    parent = request_id_new()

    assert all(re.fullmatch(r"[0-9a-f]{32}", each) for each in [*children, parent])
    assert len({*children, parent}) == 3


def test_log_lines_are_json_with_the_request_id():
    record = logging.LogRecord("shop", logging.WARNING, __file__, 1, "sold %s", ("out",), None)
    record.sku = "TR-1"
    with request_id_bound("req-7"):
        RequestIdLogFilter().filter(record)

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "sold out"
    assert line["request_id"] == "req-7"
    assert line["sku"] == "TR-1"
    assert line["level"] == "WARNING"


def test_a_task_runs_under_the_request_id_it_was_published_with(caplog):
    # The worker side: the id arrives as a task header (what before_task_publish adds).
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.INFO, logger="tests.toolkit.task"):
        result = log_inside_a_task.apply(headers={TASK_HEADER: "req-from-web"})

    # EagerResult: the value is already there; .get() would refuse if an earlier test left
    # Celery believing it is inside a task.
    assert result.result == "req-from-web"
    assert [r.request_id for r in caplog.records if r.name == task_logger.name] == ["req-from-web"]
    assert request_id_get() == ""  # reset after the task


def test_publishing_a_task_puts_the_request_id_in_its_headers():
    headers: dict = {}
    with request_id_bound("req-42"):
        _on_publish(headers=headers)

    assert headers[TASK_HEADER] == "req-42"


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_an_eager_task_keeps_the_publishers_request_id():
    assert celery_app.conf.task_always_eager
    with request_id_bound("req-eager"):
        assert log_inside_a_task.delay().result == "req-eager"


def test_upstream_calls_carry_the_request_id(upstream_simulator, settings):
    from integrations.upstream import CallPolicy, upstream_call

    settings.INTEGRATIONS_UPSTREAM_URL = upstream_simulator.url
    seen = {}

    import httpx

    original = httpx.Client.stream

    def spy(self, method, url, **kwargs):
        seen.update(kwargs.get("headers") or {})
        return original(self, method, url, **kwargs)

    policy = CallPolicy(dependency="payment", read_timeout=1.0, budget=2.0)
    with request_id_bound("req-upstream"):
        httpx.Client.stream = spy
        try:
            upstream_call(policy, "GET", "/health")
        finally:
            httpx.Client.stream = original

    assert seen["X-Request-ID"] == "req-upstream"


def test_what_a_visitor_sent_cannot_make_a_log_line_huge():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Bad: %s", ("q" * 5000,), None
    )
    record.request = f"<WSGIRequest: GET '/api/v1/search/?q={'x' * 5000}'>"
    record.status_code = 400

    line = JsonFormatter().format(record)

    entry = json.loads(line)
    assert len(line) < 2 * MAX_FIELD + 500
    assert entry["message"].endswith("... (5,005 characters)")
    assert entry["request"].startswith("<WSGIRequest: GET '/api/v1/search/?q=xxx")
    assert entry["status_code"] == 400
