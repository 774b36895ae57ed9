import pytest
from django.test import override_settings

from devstack.processes import free_port
from storefront import health
from storefront.celery import app as celery_app


def test_healthz_answers_without_touching_the_database(client):
    # No `db` fixture: pytest-django makes any database access in this test an error.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_everything_is_up(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
    }


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}})
def test_readyz_names_a_cache_that_loses_writes(client, db):
    # The dummy cache accepts writes and returns nothing: the round trip must catch it.
    response = client.get("/readyz")

    # Degraded, not unavailable: every instance shares the cache, and pages still render
    # from the database, so the instance stays in the load balancer's rotation.
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "cache": "down", "broker": "ok"},
    }


def test_readyz_names_an_unreachable_broker(client, db, monkeypatch):
    # Port 9 (discard) on loopback refuses connections: a fast, real failure. Celery
    # prefers the environment's broker URL to its configuration, so that goes too.
    for variable in ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(celery_app.conf, "broker_url", "amqp://guest:guest@127.0.0.1:9//")

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "cache": "ok", "broker": "down"},
    }


def test_readyz_reports_a_stopped_redis_as_degraded(client, db):
    # Nothing listens on a port that was free a moment ago: a stopped Redis, as the
    # services profile configures it (short timeouts, exceptions ignored and logged).
    stopped_redis = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "IGNORE_EXCEPTIONS": True},
    }
    with override_settings(CACHES={"default": stopped_redis}):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "cache": "down", "broker": "ok"},
    }


def test_readyz_without_the_database_is_unavailable(client, monkeypatch):
    def database_down():
        raise ConnectionError("could not connect to server")

    monkeypatch.setitem(health.READINESS_CHECKS, "database", database_down)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "down", "cache": "ok", "broker": "ok"},
    }


def test_readyz_when_everything_is_down(client, monkeypatch):
    def down():
        raise ConnectionError("unreachable")

    for name in ("database", "cache", "broker"):
        monkeypatch.setitem(health.READINESS_CHECKS, name, down)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "down", "cache": "down", "broker": "down"},
    }


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_refuse_writes(client, db, path):
    assert client.post(path).status_code == 405
