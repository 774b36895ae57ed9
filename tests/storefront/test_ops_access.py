"""Ops access: /metrics and the probes answer only the token's bearer or allowed networks
once either is configured, and everyone while neither is (the local profiles)."""

from pathlib import Path

import pytest
import yaml

OPS_PATHS = ["/metrics", "/healthz", "/readyz"]
TOKEN = "s3cret-ops-token-for-tests"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def token_required(settings):
    settings.STOREFRONT_OPS_TOKEN = TOKEN
    settings.STOREFRONT_OPS_ALLOWED_NETWORKS = ()


@pytest.fixture
def networks_allowed(settings):
    settings.STOREFRONT_OPS_TOKEN = ""
    settings.STOREFRONT_OPS_ALLOWED_NETWORKS = ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7")


@pytest.mark.parametrize("path", OPS_PATHS)
def test_with_nothing_configured_everyone_is_served(client, db, settings, path):
    settings.STOREFRONT_OPS_TOKEN = ""
    settings.STOREFRONT_OPS_ALLOWED_NETWORKS = ()

    assert client.get(path, REMOTE_ADDR="203.0.113.9").status_code == 200


@pytest.mark.parametrize("path", OPS_PATHS)
@pytest.mark.usefixtures("token_required")
def test_with_a_token_only_its_bearer_is_served(client, db, path):
    served = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    missing = client.get(path)
    wrong = client.get(path, headers={"Authorization": f"Bearer {TOKEN}x"})
    not_bearer = client.get(path, headers={"Authorization": f"Basic {TOKEN}"})

    assert served.status_code == 200
    for refused in (missing, wrong, not_bearer):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"] == 'Bearer realm="ops"'
        assert refused.json()["error"]["code"] == "unauthorized"
        assert "no-cache" in refused["Cache-Control"]


@pytest.mark.parametrize(
    ("address", "status"),
    [
        ("10.1.2.3", 200),
        ("192.0.2.7", 200),
        ("2001:db8::5", 200),
        ("::ffff:10.9.9.9", 200),  # an IPv4 peer on a dual-stack socket
        ("192.0.2.8", 403),
        ("127.0.0.1", 403),  # loopback is not trusted by default: a local proxy is
        ("203.0.113.9", 403),
    ],
)
@pytest.mark.usefixtures("networks_allowed")
def test_with_networks_only_their_addresses_are_served(client, db, address, status):
    response = client.get("/metrics", REMOTE_ADDR=address)

    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.usefixtures("networks_allowed")
def test_a_forwarded_address_is_never_taken_for_the_peer(client, db):
    response = client.get(
        "/healthz",
        REMOTE_ADDR="203.0.113.9",
        headers={"X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3"},
    )

    assert response.status_code == 403


def test_token_or_network_either_one_lets_in(client, db, settings):
    settings.STOREFRONT_OPS_TOKEN = TOKEN
    settings.STOREFRONT_OPS_ALLOWED_NETWORKS = ("10.0.0.0/8",)

    from_network = client.get("/readyz", REMOTE_ADDR="10.0.0.1")
    with_token = client.get(
        "/readyz", REMOTE_ADDR="203.0.113.9", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    neither = client.get("/readyz", REMOTE_ADDR="203.0.113.9")

    assert (from_network.status_code, with_token.status_code) == (200, 200)
    assert neither.status_code == 401  # the token would be accepted: say so


def test_the_production_scrape_config_sends_the_token_as_a_bearer():
    config = yaml.safe_load((ROOT / "docs/ops/prometheus-production.yml").read_text())

    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"]
    assert (ROOT / "docs/ops" / config["rule_files"][0]).exists()


def test_the_local_scrape_config_needs_no_credentials():
    config = yaml.safe_load((ROOT / "docs/ops/prometheus.yml").read_text())

    (job,) = config["scrape_configs"]
    assert "authorization" not in job
    assert job["metrics_path"] == "/metrics"
