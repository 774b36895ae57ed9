"""How every client calls the upstream: one pooled HTTP client, timeouts, bounded retries.

A call has a policy: explicit connect/read/write/pool timeouts, a number of attempts and
a total budget that bounds the call however it fails. Only idempotent requests are
retried (GETs, and writes that carry an `Idempotency-Key`), only on failures that may
pass (refused or reset connections, timeouts, 5xx), with jittered exponential backoff so
many workers do not retry in lockstep. What is left after the retries is classified:

- `UpstreamTimeout`: a write was sent and never answered; it may have taken effect.
- `UpstreamUnavailable`: nothing usable came back (down, refusing, resetting, 5xx).

The budget holds even against a slow drip (each piece of the answer within the read
timeout, the whole far past it): the body is read piece by piece against the deadline.

Circuit breakers and bulkheads wrap `upstream_call` in `resilience.dependency_call`.
"""

import json as jsonlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from integrations import metrics
from integrations.metrics import dependency_retries
from toolkit.request_context import REQUEST_ID_HEADER, request_id_get
from toolkit.tracing import outgoing_request_span

logger = logging.getLogger(__name__)

# An attempt that could last less than this is not worth starting (a replayed answer
# comes back in milliseconds, a fresh one rarely in less).
MIN_ATTEMPT_S = 0.1

_client: httpx.Client | None = None
_client_lock = threading.Lock()

# httpx's own timeout when a caller sets none: 5 s for each phase (connect, read, ...).
LIBRARY_DEFAULT_TIMEOUT = httpx.Timeout(5.0)
_library_defaults: ContextVar[bool] = ContextVar("upstream_library_defaults", default=False)


@contextmanager
def library_defaults_naive() -> Iterator[None]:
    """Inside the block, call as if no policy had been written: the lab's naive path.

    One attempt with the HTTP library's default timeout and no total budget, however
    the call's policy reads (see `resilience._unprotected_naive`, `integrations-blocking`).
    """
    token = _library_defaults.set(True)
    try:
        yield
    finally:
        _library_defaults.reset(token)


class UpstreamUnavailable(Exception):
    """Every attempt failed before an answer: down, refused, reset, or 5xx."""


class UpstreamTimeout(Exception):
    """A write went unanswered within the budget: its outcome is unknown."""


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    body: Any  # parsed JSON; None if the body was empty or not JSON

    @property
    def is_error(self) -> bool:
        return self.status >= 400


class _ServerError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"answered {status}")


_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, _ServerError)


@dataclass(frozen=True)
class CallPolicy:
    """How one dependency is called: per-phase timeouts, attempts, total budget (seconds)."""

    dependency: str
    read_timeout: float
    budget: float  # wall clock for the whole call, retries and backoff included
    connect_timeout: float = 0.5  # loopback or a LAN: a slower connect means nobody is there
    write_timeout: float = 1.0
    pool_timeout: float = 0.5  # waiting for a free pooled connection
    attempts: int = 3
    backoff: float = 0.1  # the first retry waits up to this, doubling after, jittered
    backoff_max: float = 1.0

    def timeout(self, remaining: float) -> httpx.Timeout:
        """Per-phase timeouts for one attempt, none outlasting the budget left."""
        return httpx.Timeout(
            connect=min(self.connect_timeout, remaining),
            read=min(self.read_timeout, remaining),
            write=min(self.write_timeout, remaining),
            pool=min(self.pool_timeout, remaining),
        )


def upstream_client() -> httpx.Client:
    """Return this process's pooled client, created on first use (so after any fork)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = httpx.Client(
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
                    # Upstreams are addressed directly; a proxy from the environment
                    # would add a hop the timeouts do not account for.
                    trust_env=False,
                )
    return _client


def upstream_call(
    policy: CallPolicy,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
    idempotency_key: str = "",
) -> UpstreamReply:
    """Send one logical request to the upstream and return its first non-5xx reply.

    4xx replies are returned, not raised: what they mean is the caller's business.
    Raise UpstreamTimeout when a write may have taken effect unanswered, else
    UpstreamUnavailable once the attempts or the budget run out.
    """
    url = settings.INTEGRATIONS_UPSTREAM_URL.rstrip("/") + path
    headers = _headers(idempotency_key)
    is_write = method != "GET"
    # A write without a key could act twice if retried; it gets exactly one attempt.
    attempts = policy.attempts if not is_write or idempotency_key else 1
    naive = _library_defaults.get()
    if naive:
        attempts = 1
    started = time.monotonic()
    unanswered_write = False

    def attempt() -> UpstreamReply:
        nonlocal unanswered_write
        deadline = float("inf") if naive else started + policy.budget
        remaining = max(deadline - time.monotonic(), MIN_ATTEMPT_S)
        sent_headers = dict(headers)  # each attempt is a span of its own, with its traceparent
        try:
            with (
                outgoing_request_span(
                    method, url, sent_headers, **{"peer.service": policy.dependency}
                ) as span,
                upstream_client().stream(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=sent_headers,
                    timeout=LIBRARY_DEFAULT_TIMEOUT if naive else policy.timeout(remaining),
                ) as response,
            ):
                span.set_attribute("http.status_code", response.status_code)
                if response.status_code >= 500:
                    raise _ServerError(response.status_code)
                return UpstreamReply(response.status_code, _read_json(response, deadline))
        except (httpx.ReadTimeout, httpx.WriteTimeout):
            # The request reached the upstream: retrying with the same key is safe, but
            # if no attempt is answered the outcome stays unknown.
            unanswered_write = unanswered_write or is_write
            raise

    try:
        return _retrying(policy, attempts=attempts, method=method, path=path)(attempt)
    except (httpx.TransportError, _ServerError) as failure:
        elapsed = time.monotonic() - started
        if unanswered_write:
            raise UpstreamTimeout(f"{policy.dependency}: no answer in {elapsed:.2f}s") from failure
        raise UpstreamUnavailable(f"{policy.dependency}: {failure!r}") from failure


def _headers(idempotency_key: str) -> dict[str, str]:
    """Return the request's headers: its idempotency key, if any, and the request id."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    if request_id := request_id_get():
        # The upstream's logs can then be joined with ours on the request's id.
        headers[REQUEST_ID_HEADER] = request_id
    return headers


def _retrying(policy: CallPolicy, *, attempts: int, method: str, path: str) -> Retrying:
    """Retry retryable failures after a jittered, exponential wait, up to `attempts`, and
    never start an attempt once less than MIN_ATTEMPT_S of the budget would be left."""
    return Retrying(
        stop=stop_after_attempt(attempts) | stop_before_delay(policy.budget - MIN_ATTEMPT_S),
        wait=wait_random_exponential(multiplier=policy.backoff, max=policy.backoff_max),
        retry=retry_if_exception_type(_RETRYABLE),
        before_sleep=lambda state: _log_retry(policy, method, path, state),
        reraise=True,
    )


def _read_json(response: httpx.Response, deadline: float) -> Any:
    """Read the body piece by piece, giving up at the deadline; parse it as JSON."""
    content = bytearray()
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout(
                "answer still arriving at the deadline", request=response.request
            )
        content.extend(chunk)
    try:
        return jsonlib.loads(content) if content else None
    except ValueError:
        return None


def _log_retry(policy: CallPolicy, method: str, path: str, state: RetryCallState) -> None:
    dependency_retries.labels(dependency=policy.dependency).inc()
    failure = state.outcome.exception() if state.outcome else None
    # Retries beside calls: the retry-storm alert's ratio (docs/ops/prometheus-alerts.yml).
    metrics.outcome_count(dependency=policy.dependency, outcome="retry")
    logger.warning(
        "%s %s %s attempt %d failed (%r); retrying in %.3fs",
        policy.dependency,
        method,
        path,
        state.attempt_number,
        failure,
        state.upcoming_sleep,
    )
