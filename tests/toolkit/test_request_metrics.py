"""Request metrics after scripted requests: counts and labels by route, SQL, errors.

These run in one process (its own registry); tests/devstack/test_metrics_stack.py proves
the same across two gunicorn workers in multiprocess mode.
"""

import threading

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from toolkit.metrics.http import RequestMetricsMiddleware
from toolkit.metrics.sql import QueryTally, sql_fingerprint, sql_normalise

DURATION = "peakstore_http_request_duration_seconds"


def test_requests_are_counted_by_route_name_and_method(client, product, metric_delta):
    metric_delta.watch(f"{DURATION}_count", route="pages:product", method="GET")
    metric_delta.watch(
        "peakstore_http_responses_total", route="pages:product", method="GET", status="2xx"
    )
    metric_delta.watch(f"{DURATION}_count", route="unmatched", method="GET")
    metric_delta.watch(
        "peakstore_http_responses_total", route="api:healthz", method="POST", status="4xx"
    )

    for _ in range(3):
        assert client.get("/p/trail-runner/").status_code == 200
    assert client.get("/no/such/page/").status_code == 404
    assert client.post("/healthz").status_code == 405

    assert metric_delta(f"{DURATION}_count", route="pages:product", method="GET") == 3
    assert (
        metric_delta(
            "peakstore_http_responses_total", route="pages:product", method="GET", status="2xx"
        )
        == 3
    )
    assert metric_delta(f"{DURATION}_count", route="unmatched", method="GET") == 1
    assert (
        metric_delta(
            "peakstore_http_responses_total", route="api:healthz", method="POST", status="4xx"
        )
        == 1
    )
    routes = {
        sample.labels["route"]
        for family in REGISTRY.collect()
        if family.name == DURATION
        for sample in family.samples
    }
    assert not any("/" in route for route in routes), routes


def test_every_route_slo_is_a_bucket_boundary(client, db):
    from storefront.ownership import MANIFEST

    client.get("/healthz")
    boundaries = {
        float(sample.labels["le"])
        for family in REGISTRY.collect()
        if family.name == DURATION
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }

    assert {route.slo_p95_ms / 1000 for route in MANIFEST.routes} <= boundaries


def test_queries_per_request_match_what_the_page_ran(client, product, metric_delta):
    metric_delta.watch("peakstore_http_request_queries_total", route="pages:product")

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/p/trail-runner/").status_code == 200

    assert len(queries) > 0
    statements = metric_delta("peakstore_http_request_queries_total", route="pages:product")
    assert statements == len(queries)


def test_a_page_answered_from_the_cache_counts_a_request_and_no_statements(
    client, product, metric_delta
):
    assert client.get("/p/trail-runner/").status_code == 200  # now cached
    metric_delta.watch("peakstore_http_request_queries_total", route="pages:product")
    metric_delta.watch(f"{DURATION}_count", route="pages:product", method="GET")

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/p/trail-runner/").status_code == 200

    assert len(queries) == 0
    assert metric_delta(f"{DURATION}_count", route="pages:product", method="GET") == 1
    assert metric_delta("peakstore_http_request_queries_total", route="pages:product") == 0


@override_settings(ROOT_URLCONF="tests.toolkit.urls_root")
def test_an_n_plus_one_is_counted_with_its_fingerprint(client, db, metric_delta):
    route = "misbehaving:n-plus-one"
    metric_delta.watch("peakstore_http_duplicate_query_requests_total", route=route)
    fingerprint = sql_fingerprint(str(_group_query()))
    metric_delta.watch(
        "peakstore_http_duplicate_queries_total", route=route, fingerprint=fingerprint
    )

    assert client.get("/misbehaving/n-plus-one/").status_code == 200
    assert client.get("/healthz").status_code == 200  # no queries, no duplicates

    assert metric_delta("peakstore_http_duplicate_query_requests_total", route=route) == 1
    # Three executions of one shape: two more than needed.
    assert (
        metric_delta("peakstore_http_duplicate_queries_total", route=route, fingerprint=fingerprint)
        == 2
    )


def _group_query():
    from django.contrib.auth.models import Group

    # What `.first()` runs in the view: ordered by the primary key, one row.
    return Group.objects.filter(pk=1).values_list("name", flat=True).order_by("pk")[:1].query


@override_settings(ROOT_URLCONF="tests.toolkit.urls_root")
def test_server_errors_are_counted_as_5xx(db, metric_delta):
    route = "misbehaving:broken"
    metric_delta.watch("peakstore_http_responses_total", route=route, method="GET", status="5xx")

    response = Client(raise_request_exception=False).get("/misbehaving/broken/")

    assert response.status_code == 500
    assert (
        metric_delta("peakstore_http_responses_total", route=route, method="GET", status="5xx") == 1
    )


@override_settings(ROOT_URLCONF="tests.toolkit.urls_root")
def test_in_flight_counts_the_request_being_served_and_returns_to_zero(client, db):
    before = REGISTRY.get_sample_value("peakstore_http_requests_in_flight") or 0

    during = client.get("/misbehaving/in-flight/").content

    assert int(during) == before + 1
    assert REGISTRY.get_sample_value("peakstore_http_requests_in_flight") == before


@override_settings(ROOT_URLCONF="tests.toolkit.urls_root")
def test_each_thread_counts_the_statements_of_its_own_connection(db, metric_delta):
    # The middleware keeps each thread's connection lists; a thread of a threaded server
    # has connections of its own, and its statements are its requests'.
    route = "misbehaving:n-plus-one"
    metric_delta.watch("peakstore_http_request_queries_total", route=route)

    def two_statements(request):
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT 2")
        return HttpResponse("ok")

    middleware = RequestMetricsMiddleware(two_statements)
    request = RequestFactory().get("/misbehaving/n-plus-one/")
    middleware(request)

    def other_thread():
        try:
            middleware(RequestFactory().get("/misbehaving/n-plus-one/"))
            middleware(RequestFactory().get("/misbehaving/n-plus-one/"))
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert metric_delta("peakstore_http_request_queries_total", route=route) == 6
    assert not any(isinstance(wrapper, QueryTally) for wrapper in connection.execute_wrappers)


@override_settings(PEAKSTORE_METRICS_TIMEOUT_FACTOR=0)
def test_a_request_over_slo_times_the_factor_is_a_timeout(client, db, metric_delta):
    # Factor 0: every request is over its SLO times the factor, without sleeping.
    metric_delta.watch("peakstore_http_request_timeouts_total", route="api:healthz", method="GET")

    client.get("/healthz")
    client.get("/healthz")

    assert (
        metric_delta("peakstore_http_request_timeouts_total", route="api:healthz", method="GET")
        == 2
    )


@override_settings(PEAKSTORE_METRICS_ENABLED=False)
def test_metrics_can_be_switched_off_for_the_overhead_benchmark(client, db, metric_delta):
    metric_delta.watch(f"{DURATION}_count", route="api:healthz", method="GET")

    assert client.get("/healthz").status_code == 200

    assert metric_delta(f"{DURATION}_count", route="api:healthz", method="GET") == 0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = 42"),
        ("SELECT * FROM t WHERE id IN (%s, %s)", "SELECT * FROM t WHERE id IN (%s, %s, %s)"),
        ("SELECT * FROM t WHERE name = 'a'", "SELECT  *  FROM t WHERE name = 'it''s'"),
    ],
)
def test_one_statement_shape_is_one_fingerprint(first, second):
    assert sql_fingerprint(first) == sql_fingerprint(second)


def test_different_shapes_are_different_fingerprints():
    assert sql_fingerprint("SELECT a FROM t") != sql_fingerprint("SELECT b FROM t")
    assert sql_normalise("SELECT 1 FROM t WHERE x IN (?, ?)") == "SELECT ? FROM t WHERE x IN (...)"


def test_savepoints_are_never_duplicates():
    tally = QueryTally()
    for sql in ('SAVEPOINT "s1"', 'SAVEPOINT "s2"', "SELECT 1", "SELECT 2"):
        tally(lambda *args: None, sql, None, False, None)

    assert tally.count == 4
    assert list(tally.duplicates().values()) == [(2, "SELECT 1")]
