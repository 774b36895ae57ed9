"""The simulator's control API refuses what a page on another site can send: a write
without the control header, a body that is not JSON, and any Host that is a name other
than localhost (DNS rebinding)."""

import httpx
import pytest

from integrations.simulator.server import CONTROL_HEADER

CONTROL = {CONTROL_HEADER: "1"}
WRITES = [
    ("POST", "/_faults/preset/payment-down"),
    ("POST", "/_faults/reset"),
    ("POST", "/_state/reset"),
    ("PUT", "/_faults/payment"),
]


def payment_down(simulator) -> bool:
    return httpx.get(f"{simulator.url}/_faults").json()["profiles"]["payment"]["down"]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_write_without_the_control_header_is_refused(upstream_simulator, method, path):
    # what a cross-site HTML form sends: no custom header, a form-encoded body
    response = httpx.request(
        method,
        f"{upstream_simulator.url}{path}",
        content=b"down=true",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 403
    assert response.json()["error"] == "control_header_missing"


def test_a_refused_write_changes_nothing(upstream_simulator):
    httpx.post(f"{upstream_simulator.url}/_faults/preset/payment-down")
    httpx.put(
        f"{upstream_simulator.url}/_faults/payment",
        content=b'{"down": true}',
        headers={"Content-Type": "text/plain"},  # a "simple" fetch's body
    )

    assert not payment_down(upstream_simulator)


def test_a_body_that_is_not_declared_json_is_refused_even_with_the_header(upstream_simulator):
    response = httpx.put(
        f"{upstream_simulator.url}/_faults/payment",
        content=b'{"down": true}',
        headers={**CONTROL, "Content-Type": "text/plain"},
    )

    assert response.status_code == 415
    assert response.json()["error"] == "json_required"
    assert not payment_down(upstream_simulator)


def test_a_write_with_the_header_and_json_is_applied(upstream_simulator):
    response = httpx.put(
        f"{upstream_simulator.url}/_faults/payment", json={"down": True}, headers=CONTROL
    )

    assert response.status_code == 200
    assert payment_down(upstream_simulator)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8101", "127.0.0.1.nip.io", "["])
@pytest.mark.parametrize(("method", "path"), [("GET", "/_faults"), *WRITES])
def test_a_host_that_is_a_name_is_refused_even_for_reads(upstream_simulator, host, method, path):
    # a page on evil.example whose name was made to resolve to 127.0.0.1 (DNS rebinding)
    # is same-origin with the simulator, so it could send the header: its Host gives it away
    response = httpx.request(
        method, f"{upstream_simulator.url}{path}", json={}, headers={**CONTROL, "Host": host}
    )

    assert response.status_code == 403
    assert response.json()["error"] == "host_not_allowed"


@pytest.mark.parametrize("host", ["127.0.0.1:8101", "localhost:8101", "[::1]:8101", "10.0.0.5"])
def test_addresses_and_localhost_are_hosts_the_control_api_answers(upstream_simulator, host):
    response = httpx.get(f"{upstream_simulator.url}/_faults", headers={"Host": host})

    assert response.status_code == 200


def test_reads_need_no_header(upstream_simulator):
    assert httpx.get(f"{upstream_simulator.url}/_faults").status_code == 200
    assert httpx.get(f"{upstream_simulator.url}/_stats").status_code == 200
    assert httpx.get(f"{upstream_simulator.url}/health").status_code == 200


def test_no_cors_preflight_is_ever_granted(upstream_simulator):
    response = httpx.options(
        f"{upstream_simulator.url}/_faults/preset/payment-down",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": CONTROL_HEADER,
        },
    )

    assert response.status_code >= 400
    assert not [name for name in response.headers if name.lower().startswith("access-control")]
