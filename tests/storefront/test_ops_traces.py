"""Tracing through the store: a request's trace in the ring, and /ops/traces/ for staff.

Requests send a `traceparent` of the test's own, so the test knows the trace id to look
up, and its flag says sampled (01) or not (00), as a traced client would.
"""

import json
import logging
import os

import pytest
from django.conf import settings

from storefront.ops.traces import waterfall_build
from toolkit.jsonlog import JsonFormatter
from toolkit.request_context import RequestIdLogFilter, request_id_bound
from toolkit.tracing import store_span
from toolkit.tracing.ring import SpanRecord, TraceRing
from toolkit.tracing.sampling import KEPT_BECAUSE, ROUTE
from toolkit.tracing.setup import tracing_installed


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _traceparent(*, sampled: bool) -> tuple[str, str]:
    trace_id = os.urandom(16).hex()
    return trace_id, f"00-{trace_id}-{os.urandom(8).hex()}-{'01' if sampled else '00'}"


def _kept(trace_id: str) -> list[SpanRecord]:
    tracing = tracing_installed()
    assert tracing is not None, "tracing is on in the test settings"
    tracing.tail.force_flush()
    return TraceRing(settings.PEAKSTORE_TRACING_RING_PATH).spans(trace_id)


def test_a_cold_page_is_one_trace_with_its_sql_and_the_clients_request_id(client, product):
    trace_id, traceparent = _traceparent(sampled=True)

    response = client.get(
        "/p/trail-runner/", HTTP_TRACEPARENT=traceparent, HTTP_X_REQUEST_ID="client-chose-this"
    )

    assert response.status_code == 200
    spans = _kept(trace_id)
    (server,) = [span for span in spans if span.kind == "SERVER"]
    assert server.attributes[ROUTE] == "pages:product"
    assert server.parent_id == traceparent.split("-")[2]  # the caller's trace, continued
    assert server.name == f"GET {server.attributes['http.route']}"
    assert server.attributes["http.route"].startswith("p/<")
    assert server.attributes["http.method"] == "GET"
    assert server.attributes["http.target"] == "/p/trail-runner/"
    assert server.attributes["http.status_code"] == 200
    assert server.attributes["peakstore.request_id"] == "client-chose-this"
    assert server.attributes[KEPT_BECAUSE] in {"sampled", "slow"}  # slow is said first
    statements = [span for span in spans if "db.statement" in span.attributes]
    assert statements
    assert all(span.parent_id for span in statements)  # inside the request's span
    assert server.attributes["peakstore.cache.misses"] > 0


def test_a_warm_hit_makes_no_span_unless_its_trace_is_kept(client, product):
    client.get("/p/trail-runner/")  # warm the page cache
    unsampled_id, unsampled = _traceparent(sampled=False)
    sampled_id, sampled = _traceparent(sampled=True)

    client.get("/p/trail-runner/", HTTP_TRACEPARENT=unsampled)
    client.get("/p/trail-runner/", HTTP_TRACEPARENT=sampled)

    assert _kept(unsampled_id) == []
    (hit,) = _kept(sampled_id)
    assert hit.attributes["peakstore.page_cache"] == "hit"
    assert hit.attributes[ROUTE] == "pages:product"
    assert hit.attributes["http.status_code"] == 200


def test_log_lines_carry_the_request_id_and_the_trace_id():
    record = logging.LogRecord("store", logging.INFO, __file__, 1, "priced", (), None)

    with request_id_bound("req-1"), store_span("pricing.evaluate") as span:
        RequestIdLogFilter().filter(record)
        trace_id = f"{span.get_span_context().trace_id:032x}"

    line = json.loads(JsonFormatter().format(record))
    assert (line["request_id"], line["trace_id"]) == ("req-1", trace_id)


@pytest.mark.parametrize("path", ["/ops/traces/", f"/ops/traces/{'a' * 32}/"])
def test_traces_are_for_staff_only(client, django_user_model, path):
    assert client.get(path).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("shopper", password="x"))
    assert client.get(path).status_code == 302


def test_staff_see_the_kept_trace_and_its_waterfall(client, admin_user, product):
    trace_id, traceparent = _traceparent(sampled=True)
    client.get("/c/outdoor/", HTTP_TRACEPARENT=traceparent)
    _kept(trace_id)
    client.force_login(admin_user)

    listing = client.get("/ops/traces/").content.decode()
    detail = client.get(f"/ops/traces/{trace_id}/")

    assert trace_id[:12] in listing
    assert "pages:category" in listing
    assert detail.status_code == 200
    assert "SQL by statement shape" in detail.content.decode()


@pytest.mark.parametrize("trace_id", ["not-hex", "0" * 31, "f" * 32])
def test_a_malformed_or_unknown_trace_id_is_a_404(staff_client, trace_id):
    assert staff_client.get(f"/ops/traces/{trace_id}/").status_code == 404


def _span(
    span_id: str, parent: str, start: int, end: int, statement: str | None = None
) -> SpanRecord:
    attributes: dict[str, object] = {"db.statement": statement} if statement else {}
    return SpanRecord(
        span_id, parent, "span", "INTERNAL", "peakstore-web", start, end, False, attributes
    )


def test_the_waterfall_nests_spans_and_flags_a_statement_shape_run_per_row():
    spans = [
        _span("root", "", 0, 10_000_000),
        _span("list", "root", 1_000_000, 2_000_000, "SELECT id FROM product LIMIT 24"),
        *(
            _span(
                f"n{index}",
                "root",
                2_000_000 + index,
                2_500_000,
                f"SELECT * FROM brand WHERE id = {index}",
            )
            for index in range(3)
        ),
        _span("orphan", "from-a-process-not-kept", 3_000_000, 4_000_000),
    ]

    waterfall = waterfall_build("t", spans)

    assert waterfall is not None
    depths = {row.span.span_id: row.depth for row in waterfall.rows}
    assert depths == {"root": 0, "list": 1, "n0": 1, "n1": 1, "n2": 1, "orphan": 0}
    flagged = {row.span.span_id for row in waterfall.rows if row.repeated}
    assert flagged == {"n0", "n1", "n2"}
    assert [(group.executions, group.repeated) for group in waterfall.statements] == [
        (3, True),
        (1, False),
    ]
    assert (waterfall.rows[0].offset_pct, waterfall.rows[0].width_pct) == (0, 100)


def test_a_request_id_leads_to_its_kept_trace(client, admin_user, product):
    trace_id, traceparent = _traceparent(sampled=True)
    client.get("/c/outdoor/", HTTP_TRACEPARENT=traceparent, HTTP_X_REQUEST_ID="load-run-42")
    _kept(trace_id)
    client.force_login(admin_user)

    found = client.get("/ops/traces/?request_id=load-run-42")
    missing = client.get("/ops/traces/?request_id=never-kept")

    assert found.status_code == 302
    assert found["Location"] == f"/ops/traces/{trace_id}/"
    assert missing.status_code == 200
    assert "No kept trace for request" in missing.content.decode()
