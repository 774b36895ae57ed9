"""The simulator's HTTP server: routing, fault injection and the control API.

One thread per connection (ThreadingHTTPServer), so a request that hangs or drips holds
only its own thread. Threads are daemons: SIGTERM stops the process without waiting for
requests that are hanging on purpose.

Control API (never subject to faults):
    GET  /health                 -> 200 {"status": "ok"}
    GET  /_faults                -> 200 {"seed", "profiles": {dependency: profile}}
    PUT  /_faults/<dependency>   -> 200 profile  (the body replaces the whole profile)
    POST /_faults/reset          -> 200 as GET /_faults, every profile healthy again
    POST /_faults/preset/<name>  -> 200 as GET /_faults, every profile healthy, then the
                                    named preset's (presets.py); 404 for an unknown name
    GET  /_stats                 -> 200 {dependency: {"requests", <outcome>: count}}
    POST /_state/reset           -> 200, every dependency forgets what it recorded, in memory
                                    and in the state file (`state.py`)
    POST /_drift/<kind>          -> 200 {"injected": [...]}: body {"rate": R} changes that
                                    share of the kind's records (drift.py); 400 if invalid
    GET  /_drift                 -> 200 {"injected": [...]}: every change drift made (a
                                    test's oracle; the store never reads it)

The control API answers only requests a web page on another site cannot make: every
write carries the `X-Simulator-Control` header (a body, as `application/json`), and the
Host is an IP address or `localhost`. A cross-site form or a simple `fetch` cannot set
the header, and a `fetch` that does must first pass a CORS preflight, which this server
never grants (OPTIONS is not served). A page whose own name was made to resolve to
127.0.0.1 (DNS rebinding) sends that name as the Host and is refused even for reads.
Otherwise 403 `control_header_missing` or `host_not_allowed`, 415 `json_required`.
"""

import ipaddress
import json
import select
import socket
import struct
import time
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.drift import DriftBook, InvalidDrift
from integrations.simulator.erp import Erp
from integrations.simulator.faults import HANG_BOUND_S, FaultBook, FaultProfile, InvalidProfile
from integrations.simulator.payment import PaymentGateway
from integrations.simulator.pim import Pim
from integrations.simulator.presets import PRESETS
from integrations.simulator.recommendations import Recommendations
from integrations.simulator.reviews import Reviews
from integrations.simulator.routes import Dependency, Reply, Request, Route, error
from integrations.simulator.shipping import Shipping
from integrations.simulator.state import SimState
from integrations.simulator.tax import Tax
from toolkit.tracing.setup import server_span

_DRIP_CHUNK_BYTES = 16
_DRIP_MIN_PIECES = 8  # even a tiny answer drips in pieces, none late alone
_MAX_BODY_BYTES = 1 << 20
# Sent by every client of the control API (`integrations.fault_presets`, the load tests).
CONTROL_HEADER = "X-Simulator-Control"
_READS = frozenset({"GET", "HEAD"})


def dependencies(catalog: SimCatalog, state: SimState) -> list[Dependency]:
    """Every simulated upstream, each with its own routes and fault profile; those that
    record something (payment, ERP) keep it in `state`."""
    return [
        PaymentGateway(state),
        Erp(catalog, state),
        Pim(catalog),
        Tax(),
        Shipping(),
        Recommendations(catalog),
        Reviews(catalog),
    ]


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    # Load tests open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        *,
        seed: int,
        catalog: SimCatalog | None = None,
        state: SimState | None = None,
    ) -> None:
        super().__init__(address, SimulatorHandler)
        catalog = catalog or SimCatalog.load(None, seed=seed)
        self.state = state or SimState()
        self.dependencies = {
            dependency.name: dependency for dependency in dependencies(catalog, self.state)
        }
        self.faults = FaultBook(self.dependencies, seed)
        erp, pim, payment = (self.dependencies[name] for name in ("erp", "pim", "payment"))
        assert isinstance(erp, Erp)
        assert isinstance(pim, Pim)
        assert isinstance(payment, PaymentGateway)
        self.drift = DriftBook(seed=seed, catalog=catalog, erp=erp, pim=pim, payment=payment)
        self.routes = [
            (name, route)
            for name, dependency in self.dependencies.items()
            for route in dependency.routes()
        ]

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients' connection pools are exercised
    server: SimulatorServer
    # Idle keep-alive connections are closed after this; clients expire theirs sooner.
    timeout = 120

    def setup(self) -> None:
        super().setup()
        # Answers go out in pieces (headers, body, drips): without this, Nagle's algorithm
        # meets the client's delayed ACK and adds 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: under load an access log costs more than the simulated work."""

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        control = url.path == "/health" or url.path.startswith("/_")
        try:
            # Read whole even when refused: the connection's next request starts after it.
            raw = self._read_body()
            if control and (refusal := self._control_refusal()):
                self._send(refusal)
                return
            body = json.loads(raw) if raw.strip() else None
        except ValueError as invalid:
            self._send(error(400, "invalid_json", str(invalid)))
            return
        if control:
            self._send(self._control(url.path, body))
            return
        found = self._route(url.path)
        if found is None:
            self._send(error(404, "not_found"))
            return
        dependency, route, params = found
        if route.method != self.command:
            self._send(error(405, "method_not_allowed"))
            return
        request = Request(
            method=self.command,
            path=url.path,
            params=params,
            query=dict(parse_qsl(url.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        # The caller's trace continues here (`traceparent`): with tracing set up in this
        # process (`python -m integrations.simulator --traces ...`) the answer is a span.
        with server_span(f"{self.command} {dependency}", request.headers, dependency=dependency):
            self._serve_with_faults(dependency, route, request)

    def _serve_with_faults(self, dependency: str, route: Route, request: Request) -> None:
        decision = self.server.faults.boxes[dependency].decide()
        if decision.down:
            self._send(error(503, "dependency_down"))
            return
        if decision.reset:
            self._reset_connection()
            return
        if decision.hang:
            self._wait_for_disconnect(HANG_BOUND_S)
            self.close_connection = True
            return
        time.sleep(decision.delay_s)
        if decision.error:
            self._send(error(503, "injected_error"))
            return
        reply = route.handler(request)
        if reply.hold_s and self._wait_for_disconnect(reply.hold_s):
            self.close_connection = True
            return
        self._send(reply, drip_s=decision.drip_s)

    def _route(self, path: str) -> tuple[str, Route, dict[str, str]] | None:
        """Find the route for a path, preferring one whose method matches."""
        candidates = [
            (name, route, match.groupdict())
            for name, route in self.server.routes
            if (match := route.regex.fullmatch(path))
        ]
        for candidate in candidates:
            if candidate[1].method == self.command:
                return candidate
        return candidates[0] if candidates else None

    def _control_refusal(self) -> Reply | None:
        """Why this control request is refused (see the module's docstring), or None."""
        if not _host_allowed(self.headers.get("Host", "")):
            return error(403, "host_not_allowed", "the Host must be an IP address or localhost")
        if self.command in _READS:
            return None
        if not self.headers.get(CONTROL_HEADER):
            return error(403, "control_header_missing", f"send the {CONTROL_HEADER} header")
        content_type = self.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if int(self.headers.get("Content-Length") or 0) and content_type != "application/json":
            return error(415, "json_required", "a control request's body is application/json")
        return None

    def _control(self, path: str, body: Any) -> Reply:
        faults = self.server.faults
        if (self.command, path) == ("GET", "/health"):
            return Reply(200, {"status": "ok"})
        if (self.command, path) == ("GET", "/_faults"):
            return Reply(200, faults.status())
        if (self.command, path) == ("POST", "/_faults/reset"):
            faults.reset()
            return Reply(200, faults.status())
        if self.command == "POST" and path.startswith("/_faults/preset/"):
            profiles = PRESETS.get(path.removeprefix("/_faults/preset/"))
            if profiles is None:
                return error(404, "unknown_preset")
            faults.preset_apply(profiles)
            return Reply(200, faults.status())
        if (self.command, path) == ("POST", "/_state/reset"):
            for dependency in self.server.dependencies.values():
                dependency.forget()
            self.server.drift.forget()
            return Reply(200, {"status": "forgotten"})
        if (self.command, path) == ("GET", "/_drift"):
            return Reply(200, self.server.drift.record())
        if self.command == "POST" and path.startswith("/_drift/"):
            try:
                rate = body.get("rate") if isinstance(body, dict) else None
                made = self.server.drift.inject(path.removeprefix("/_drift/"), rate)
            except InvalidDrift as invalid:
                return error(400, "invalid_drift", str(invalid))
            return Reply(200, {"injected": [asdict(entry) for entry in made]})
        if (self.command, path) == ("GET", "/_stats"):
            return Reply(200, faults.stats())
        if self.command == "PUT" and path.startswith("/_faults/"):
            box = faults.boxes.get(path.removeprefix("/_faults/"))
            if box is None:
                return error(404, "unknown_dependency")
            try:
                box.set(FaultProfile.from_json(body if body is not None else {}))
            except (InvalidProfile, AttributeError, TypeError) as invalid:
                return error(400, "invalid_profile", str(invalid))
            return Reply(200, box.status())
        return error(404, "not_found")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= _MAX_BODY_BYTES:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply, *, drip_s: float = 0.0) -> None:
        payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not drip_s:
            self.wfile.write(payload)
            return
        # Slow drip: every piece arrives well within a read timeout, the whole far past
        # it. Only a client with a total deadline notices.
        size = max(1, min(_DRIP_CHUNK_BYTES, len(payload) // _DRIP_MIN_PIECES))
        chunks = [payload[i : i + size] for i in range(0, len(payload), size)]
        pause = drip_s / len(chunks)
        try:
            for chunk in chunks:
                time.sleep(pause)
                self.wfile.write(chunk)
        except OSError:
            self.close_connection = True

    def _reset_connection(self) -> None:
        """Abort the connection with a TCP RST, the way a crashing proxy does."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _wait_for_disconnect(self, seconds: float) -> bool:
        """Hold the connection for up to `seconds`; return True if the client left first.

        A client that gives up closes its socket, which makes it readable with nothing to
        read; ending then keeps abandoned requests from piling up threads.
        """
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], left)
            if not readable:
                continue
            try:
                if not self.connection.recv(1, socket.MSG_PEEK):
                    return True
            except OSError:
                return True
            time.sleep(min(left, 0.1))  # a pipelined request is waiting; keep holding
        return False


def _host_allowed(host_header: str) -> bool:
    """An IP address or localhost: no name a DNS-rebinding page could have chosen."""
    try:
        host = urlsplit(f"//{host_header}").hostname or ""
        if host != "localhost":
            ipaddress.ip_address(host)
    except ValueError:  # not an address, or not even a host ("[")
        return False
    return True
