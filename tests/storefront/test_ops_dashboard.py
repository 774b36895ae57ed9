"""/metrics for the scraper, /ops/ and its data for staff only."""

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from checkout import outbox
from storefront.caches import OPS
from storefront.ops.dashboard import dashboard_data
from storefront.ops.readings import RING, Reading, RouteReading, reading_from, ring_update
from storefront.ownership import MANIFEST
from toolkit.manifest import Criticality


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_metrics_is_prometheus_text_with_queue_depth(client, db):
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"peakstore_http_request_duration_seconds", "peakstore_celery_broker_up"} <= names


@pytest.mark.parametrize("path", ["/ops/", "/ops/data.json"])
def test_ops_is_for_staff_only(client, django_user_model, path):
    assert client.get(path).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("shopper", password="x"))
    assert client.get(path).status_code == 302


def test_ops_dashboard_renders_every_panel_with_a_fallback_refresh(staff_client, product):
    staff_client.get("/p/trail-runner/")

    page = staff_client.get("/ops/").content.decode()

    for title in (
        "Routes against their SLO",
        "Checkout funnel",
        "Cache hit ratio",
        "Dependencies",
        "Celery",
        "Release exposures",
        "Admission control",
    ):
        assert title in page
    assert 'http-equiv="refresh"' in page
    assert "pages:product" in page
    assert "<svg" in page


def test_ops_data_is_json_with_the_panels(staff_client, product):
    staff_client.get("/p/trail-runner/")

    data = staff_client.get("/ops/data.json").json()

    assert {
        "routes",
        "caches",
        "dependencies",
        "celery",
        "funnel",
        "release_exposures",
        "panels_html",
    } <= set(data)
    product_row = next(row for row in data["routes"] if row["route"] == "pages:product")
    assert product_row["slo_ms"] == 200
    assert product_row["owner"] == "catalog"
    assert {row["dependency"] for row in data["dependencies"]} >= {"payment", "erp"}
    classes = [row["route_class"] for row in data["admission"]["classes"]]
    assert classes == ["bot", "deep_browse", "browse"]


def test_admission_panel_shows_the_expected_wait_against_the_overload_wait():
    # given a wait of 240 ms against an overload wait of 150 ms, and 15 bot requests shed
    # in the window
    budgets = {"browse": 0.2, "deep_browse": 0.1, "bot": 0.05}
    before = Reading(at=0.0, admission_wait=0.0, admission_budgets=budgets, shed={"bot": 10})
    now = Reading(
        at=60.0,
        admission_wait=0.24,
        admission_overload_wait=0.15,
        admission_budgets=budgets,
        shed={"bot": 25},
    )

    admission = dashboard_data([before], now, MANIFEST)["admission"]

    # then the wait is an overload, and the classes come in the order they are shed
    assert admission["expected_wait_ms"] == 240.0
    assert admission["wait_series"] == [240.0]
    assert (admission["overload_wait_ms"], admission["wait_to_overload"]) == (150.0, 1.6)
    assert admission["overloaded"]
    bot, deep_browse, browse = admission["classes"]
    assert (bot["route_class"], bot["budget_ms"], bot["shed"]) == ("bot", 50.0, 15)
    assert (deep_browse["budget_ms"], deep_browse["shed"]) == (100.0, 0)
    assert (browse["route_class"], browse["shed"]) == ("browse", 0)


def test_admission_panel_tells_no_overload_below_the_overload_wait():
    now = Reading(at=60.0, admission_wait=0.12, admission_overload_wait=0.15)

    admission = dashboard_data([], now, MANIFEST)["admission"]

    assert not admission["overloaded"]
    assert admission["wait_to_overload"] == 0.8


def test_ops_shows_the_expected_wait_against_the_overload_wait(staff_client, product, settings):
    settings.STOREFRONT_ADMISSION_OVERLOAD_WAIT = 0.25
    staff_client.get("/p/trail-runner/")

    html = staff_client.get("/ops/").content.decode()

    line = re.search(r'data-testid="overload"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "% of the 250 ms that, standing, is an overload" in re.sub(r"<svg.*?</svg>", "", line)


def test_celery_panel_counts_dead_letters_and_unqueued_deliveries():
    # given two dead letters, and 3 deliveries the broker refused in the window
    families = list(
        text_string_to_metric_families(
            "# TYPE peakstore_outbox_dead_letters gauge\n"
            "peakstore_outbox_dead_letters 2.0\n"
            "# TYPE peakstore_outbox_publish_failures counter\n"
            'peakstore_outbox_publish_failures_total{pid="1"} 4.0\n'
            'peakstore_outbox_publish_failures_total{pid="2"} 1.0\n'
        )
    )
    before = Reading(at=0.0, outbox_publish_failures=2.0)
    now = reading_from(families, at=60.0)

    celery = dashboard_data([before], now, MANIFEST)["celery"]

    assert (celery["outbox_dead_letters"], celery["outbox_publish_failures"]) == (2, 3)
    never_counted = dashboard_data([], Reading(at=1.0), MANIFEST)["celery"]
    assert never_counted["outbox_dead_letters"] is None


def test_ops_shows_the_outbox_line(staff_client, db):
    outbox.outbox_dead_letters_publish()

    html = staff_client.get("/ops/").content.decode()

    line = re.search(r'data-testid="outbox">(.*?)</p>', html, re.S).group(1)
    assert "0 dead letters" in " ".join(line.split())


def test_a_ring_written_with_an_older_reading_shape_is_dropped(db):
    # given a ring whose reading predates the admission fields
    old = Reading(at=1.0)
    del old.__dict__["shed"]
    OPS.set(RING, [old], timeout=60)

    ring = ring_update(Reading(at=100.0))

    assert [reading.at for reading in ring if reading.at == 1.0] == []


def test_percentiles_over_a_window_come_from_the_bucket_differences():
    # 100 requests before the window, all fast; 10 in it, all between 0.25 and 0.5 s.
    fast = [(0.1, 100.0), (0.25, 100.0), (0.5, 100.0), (float("inf"), 100.0)]
    slow = [(0.1, 100.0), (0.25, 100.0), (0.5, 110.0), (float("inf"), 110.0)]
    before = Reading(at=0.0, routes={"pages:product": RouteReading(buckets=fast, count=100)})
    now = Reading(at=60.0, routes={"pages:product": RouteReading(buckets=slow, count=110)})

    data = dashboard_data([before], now, MANIFEST)

    row = data["routes"][0]
    assert row["requests"] == 10
    assert 250 < row["p95_ms"] <= 500
    assert row["over_slo"] is True


def test_ops_shows_every_release_flag_and_the_last_decisions(staff_client, django_user_model):
    from django.core.management import call_command

    from releases.spec import FLAGS

    django_user_model.objects.create_superuser("release-lead", "lead@example.com", "pw")
    call_command("rollout", "stop", "reviews", "--actor", "release-lead", "--reason", "drill")

    data = staff_client.get("/ops/data.json").json()
    page = staff_client.get("/ops/").content.decode()

    assert {flag["name"] for flag in data["release_exposures"]["flags"]} == set(FLAGS)
    assert data["release_exposures"]["decisions"][0]["flag"] == "reviews"
    assert "recommendations-v2" in page
    assert "drill" in page


def test_ops_drives_a_release_with_the_buttons_its_state_allows(
    staff_client, client, django_user_model
):
    from releases.models import ReleaseFlag

    # given a rollout never started: the only button is "start"
    page = staff_client.get("/ops/").content.decode()
    assert 'action="/ops/releases/recommendations-v2/start/"' in page
    assert 'action="/ops/releases/recommendations-v2/stop/"' not in page

    # when the superuser presses it
    response = staff_client.post("/ops/releases/recommendations-v2/start/", {"reason": "go"})

    # then the flag runs, and the page now offers advance, hold and stop
    assert response.status_code == 302
    assert ReleaseFlag.objects.get(name="recommendations-v2").status == "running"
    page = staff_client.get("/ops/").content.decode()
    for action in ("advance", "hold", "stop"):
        assert f'action="/ops/releases/recommendations-v2/{action}/"' in page

    # and staff without the stop permission are refused by the same service
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    client.post("/ops/releases/recommendations-v2/stop/", {"reason": "no"})
    assert ReleaseFlag.objects.get(name="recommendations-v2").status == "running"


@pytest.fixture
def busy_dashboard(monkeypatch):
    """/ops/ shows a busy store's readings: every route, dependency and panel full."""
    from storefront.ops import views
    from tests.storefront.ops_readings import busy_ring

    ring, now = busy_ring()
    monkeypatch.setattr(views, "reading_take", lambda: now)
    monkeypatch.setattr(views, "ring_update", lambda reading: ring)


def test_every_dependency_and_route_shows_its_declared_criticality(staff_client, busy_dashboard):
    data = staff_client.get("/ops/data.json").json()
    page = staff_client.get("/ops/").content.decode()

    declared = {str(level) for level in Criticality}
    assert {row["dependency"] for row in data["dependencies"]} >= {"recommendations", "reviews"}
    assert {row["criticality"] for row in data["dependencies"]} <= declared
    assert {row["criticality"] for row in data["routes"]} <= declared
    assert "unknown" not in page.lower()
    # every cache namespace names its owner (owned caches from the cache registry)
    assert [row["namespace"] for row in data["caches"] if row["owner"] == "?"] == []


def test_each_figure_has_its_sparkline_beside_it(staff_client, busy_dashboard):
    page = staff_client.get("/ops/").content.decode()

    # req/s, the expected wait, completion and queue depth: figure and chart in one box
    assert 'req/s</span> <svg class="spark"' in page
    for label in ("expected wait for a worker", "completed / started", "waiting in celery"):
        assert re.search(rf"{label}</small></span> <svg class=\"spark\"", page), label


def test_empty_panels_say_what_to_do(staff_client, monkeypatch):
    from storefront.ops import views

    empty = Reading(at=100.0, queue_depth={"celery": 0.0})
    monkeypatch.setattr(views, "reading_take", lambda: empty)
    monkeypatch.setattr(views, "ring_update", lambda reading: [])

    page = staff_client.get("/ops/").content.decode()

    assert "open the store at" in page
    assert "No checkouts in the window: add a product to the cart" in page
    assert "No cache lookups in the window" in page
    assert "No tasks ran in the window" in page


def test_ops_and_metrics_show_each_replicas_lag_and_rotation(staff_client, monkeypatch):
    import time

    from django.test import override_settings

    from toolkit import replicas

    # Given one replica far behind (replay paused) and one caught up
    readings = {
        "replica_0": replicas.LagReading("replica_0", time.time(), 42.0, 1000, 9000, paused=True),
        "replica_1": replicas.LagReading("replica_1", time.time(), 0.0, 9000, 9000),
    }
    monkeypatch.setattr(replicas.monitor, "reading", readings.get)
    with override_settings(
        TOOLKIT_DB_REPLICAS=("replica_0", "replica_1"), TOOLKIT_REPLICA_MAX_LAG=5.0
    ):
        page = staff_client.get("/ops/").content.decode()
        exposition = staff_client.get("/metrics").content.decode()

    # Then /ops/ shows the lagging one out of rotation, the other in
    assert re.search(r"replica_0 <span class=\"muted\">replay paused</span>.*?out", page, re.S)
    assert re.search(r"replica_1</th>\s*<td><span class=\"pill\">in rotation", page)
    # And /metrics exports lag, bytes behind and rotation per replica
    samples = {
        (sample.name, sample.labels.get("alias")): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    assert samples[("peakstore_db_replica_lag_seconds", "replica_0")] == 42.0
    assert samples[("peakstore_db_replica_lag_bytes", "replica_0")] == 8000
    assert samples[("peakstore_db_replica_in_rotation", "replica_0")] == 0
    assert samples[("peakstore_db_replica_in_rotation", "replica_1")] == 1


def test_ops_says_there_is_no_replica_when_none_is_configured(staff_client):
    assert "No read replica" in staff_client.get("/ops/").content.decode()


def test_ops_shows_each_step_of_the_latest_deploys(staff_client, db):
    from datetime import UTC, datetime, timedelta

    from releases.interface import deploy_step_record

    started = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    for offset, (step, ok, detail) in enumerate(
        [("expand", True, "applied catalog.0099_badge"), ("web", False, "did not reload")]
    ):
        at = started + timedelta(seconds=10 * offset)
        deploy_step_record(
            deploy="d1",
            step=step,
            ok=ok,
            started_at=at,
            finished_at=at + timedelta(seconds=3),
            detail=detail,
        )

    data = staff_client.get("/ops/data.json").json()
    page = staff_client.get("/ops/").content.decode()

    assert [(s["step"], s["ok"], s["seconds"]) for s in data["deploys"]] == [
        ("web", False, 3.0),
        ("expand", True, 3.0),
    ]
    assert "applied catalog.0099_badge" in page
    assert "did not reload" in page


def test_the_deploys_panel_says_how_to_deploy_when_there_was_none(staff_client, db):
    page = staff_client.get("/ops/").content.decode()

    assert "No deploys yet" in page
    assert "make deploy" in page


def test_celery_panel_shows_the_outbox_backlog_and_its_oldest_message():
    families = list(
        text_string_to_metric_families(
            "# TYPE peakstore_outbox_backlog gauge\n"
            "peakstore_outbox_backlog 7.0\n"
            "# TYPE peakstore_outbox_oldest_age_seconds gauge\n"
            "peakstore_outbox_oldest_age_seconds 93.4\n"
        )
    )

    celery = dashboard_data([], reading_from(families, at=5.0), MANIFEST)["celery"]

    assert (celery["outbox_backlog"], celery["outbox_oldest_age_s"]) == (7, 93)
    assert dashboard_data([], Reading(at=1.0), MANIFEST)["celery"]["outbox_backlog"] is None
