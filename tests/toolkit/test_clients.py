"""Who is asking: trusted proxies only, IPv6 per /64, the load generator's signed ids."""

import re
from pathlib import Path

import pytest
from django.test import RequestFactory

from toolkit.clients import (
    LOADGEN_HEADER,
    client_address,
    client_identity,
    client_key,
    loadgen_signature,
)

ROOT = Path(__file__).resolve().parents[2]
factory = RequestFactory()


def request(peer: str = "203.0.113.9", forwarded: str | None = None, **headers: str):
    meta = {"REMOTE_ADDR": peer, **headers}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return factory.post("/api/v1/carts/", **meta)


@pytest.fixture(autouse=True)
def _no_proxies(settings):
    settings.TRUSTED_PROXIES = ()
    settings.PEAKSTORE_LOADGEN_KEY = ""


def test_forwarded_for_is_ignored_from_an_untrusted_peer():
    assert str(client_address(request("203.0.113.9", forwarded="198.51.100.1"))) == "203.0.113.9"


def test_loopback_is_not_a_trusted_proxy_by_default():
    spoofed = request("127.0.0.1", forwarded="198.51.100.1")

    assert str(client_address(spoofed)) == "127.0.0.1"
    assert client_identity(spoofed) == "ip:127.0.0.1"


def test_a_trusted_proxy_names_the_client_right_most_untrusted_hop(settings):
    settings.TRUSTED_PROXIES = ("10.0.0.0/8",)
    # The client wrote a fake first hop; our two proxies appended what they saw.
    chain = "1.2.3.4, 198.51.100.7, 10.0.0.5"

    assert str(client_address(request("10.0.0.2", forwarded=chain))) == "198.51.100.7"


def test_a_trusted_proxy_without_forwarded_for_is_the_client(settings):
    settings.TRUSTED_PROXIES = ("10.0.0.2",)

    assert str(client_address(request("10.0.0.2"))) == "10.0.0.2"


@pytest.mark.parametrize("chain", ["not-an-ip", "198.51.100.7, garbage\x00", ", ,"])
def test_a_garbled_chain_falls_back_to_the_proxy(settings, chain):
    settings.TRUSTED_PROXIES = ("10.0.0.0/8",)

    assert str(client_address(request("10.0.0.2", forwarded=chain))) == "10.0.0.2"


def test_ipv6_clients_are_grouped_by_their_64():
    one = client_identity(request("2001:db8:1:2::1"))
    same_host = client_identity(request("2001:db8:1:2:ffff::9"))
    other = client_identity(request("2001:db8:1:3::1"))

    assert one == same_host == "ip:2001:db8:1:2::/64"
    assert other != one


def test_no_peer_address_is_one_unknown_client():
    assert client_address(request("")) is None
    assert client_identity(request("")) == "unknown"


def _signed(client_id: str, key: str) -> dict[str, str]:
    header = "HTTP_" + LOADGEN_HEADER.upper().replace("-", "_")
    return {header: f"{client_id}.{loadgen_signature(client_id, key)}"}


def test_the_load_generator_names_clients_only_with_the_stack_key(settings):
    settings.PEAKSTORE_LOADGEN_KEY = "stack-key"

    assert client_identity(request("127.0.0.1", **_signed("visit-1", "stack-key"))) == (
        "load:visit-1"
    )
    assert client_identity(request("127.0.0.1", **_signed("visit-1", "guessed"))) == (
        "ip:127.0.0.1"
    )
    unsigned = {"HTTP_X_PEAKSTORE_LOAD_CLIENT": "visit-1"}
    assert client_identity(request("127.0.0.1", **unsigned)) == "ip:127.0.0.1"


def test_without_a_key_the_header_means_nothing(settings):
    settings.PEAKSTORE_LOADGEN_KEY = ""

    assert client_identity(request("127.0.0.1", **_signed("visit-1", ""))) == "ip:127.0.0.1"


def test_the_key_is_opaque_and_stable_per_client():
    first = client_key(request("203.0.113.9"))

    assert first == client_key(request("203.0.113.9"))
    assert first != client_key(request("203.0.113.10"))
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert "203" not in first


def test_no_other_module_reads_the_forwarded_for_header():
    """toolkit.clients is the one place that may believe X-Forwarded-For."""
    allowed = {ROOT / "toolkit" / "clients.py"}
    # The META key, or the header's name as a string (request.headers["X-Forwarded-For"]).
    pattern = re.compile(r"HTTP_X_FORWARDED_FOR|[\"']X-Forwarded-For[\"']", re.IGNORECASE)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in (
            "storefront",
            "releases",
            "checkout",
            "search",
            "pricing",
            "inventory",
            "catalog",
            "integrations",
            "toolkit",
            "devstack",
        )
        for path in (ROOT / folder).rglob("*.py")
        if path not in allowed and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_load_generator_signs_as_the_store_checks():
    from loadtests.identity import client_headers

    assert client_headers("visit-7", "k") == {
        LOADGEN_HEADER: f"visit-7.{loadgen_signature('visit-7', 'k')}"
    }
    assert client_headers("visit-7", "") == {}
