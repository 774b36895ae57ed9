"""Who is asking: the one place that turns a request into a client address and identity.

Throttles and per-client stock holds key on `client_key(request)`; nothing else reads
`REMOTE_ADDR` or `X-Forwarded-For` (a test greps for it).

- **Address.** `REMOTE_ADDR` is the socket peer and cannot be forged. `X-Forwarded-For`
  can be written by anyone, so it is read only when the peer is one of
  `TRUSTED_PROXIES` (addresses or networks; empty by default, and loopback is not
  trusted unless listed): the client is then the right-most hop that is not itself a
  trusted proxy, since each proxy appends the address it saw.
- **Identity.** IPv4 per address, IPv6 per /64 (one host is handed a whole /64).
  A load generator on a development stack may speak for many simulated shoppers from
  one address: `X-Peakstore-Load-Client: <id>.<hmac>` is honoured only when
  `PEAKSTORE_LOADGEN_KEY` is set (the stack runner makes one per run; production
  settings never set it) and the HMAC-SHA256 of the id under that key matches.
"""

import hashlib
import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOADGEN_HEADER = "X-Peakstore-Load-Client"
_LOADGEN_ID_MAX = 64
_IPV6_CLIENT_PREFIX = 64
# A peer Django's test client or a unix socket reports when there is no IP at all.
_UNKNOWN = "unknown"


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted)


def _parse(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: IPAddress | None) -> bool:
    if address is None:
        return False
    return any(address in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request: HttpRequest) -> IPAddress | None:
    """The client's IP address, or None when the peer has none (a unix socket)."""
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    if not _trusted(peer):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _parse(hop)
        if address is None:
            return peer  # a garbled chain: the last trustworthy fact is the proxy itself
        if not _trusted(address):
            return address
    return peer


def loadgen_signature(client_id: str, key: str) -> str:
    """What a load generator appends to a simulated client's id (see the module doc)."""
    return hmac.new(key.encode(), client_id.encode(), hashlib.sha256).hexdigest()


def _loadgen_client(request: HttpRequest) -> str | None:
    key = settings.PEAKSTORE_LOADGEN_KEY
    value = request.headers.get(LOADGEN_HEADER, "")
    if not key or not value:
        return None
    client_id, _, signature = value.partition(".")
    if not client_id or len(client_id) > _LOADGEN_ID_MAX or not client_id.isascii():
        return None
    if not hmac.compare_digest(signature, loadgen_signature(client_id, key)):
        return None
    return client_id


def client_identity(request: HttpRequest) -> str:
    """A readable name of the client for limits: `ip:<address or /64>` or `load:<id>`."""
    if (simulated := _loadgen_client(request)) is not None:
        return f"load:{simulated}"
    address = client_address(request)
    if address is None:
        return _UNKNOWN
    if address.version == 6:
        network = ipaddress.ip_network(f"{address}/{_IPV6_CLIENT_PREFIX}", strict=False)
        return f"ip:{network}"
    return f"ip:{address}"


def client_key(request: HttpRequest) -> str:
    """An opaque 32-character key per client, safe to store (no address in clear)."""
    return salted_hmac("peakstore.client", client_identity(request)).hexdigest()[:32]
