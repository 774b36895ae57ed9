"""What counts as an error in a load run. Kept free of Locust imports so tests can use it.

Every answer gets one of four outcomes, recorded in the request's context (and so in
the run's event log, see `loadtests/recorder.py`):

- `ok`: the expected status;
- `refused`: a refusal a shopper may meet with nothing wrong (an item sold out, a card
  declined) — a success for Locust, but not a completed checkout;
- `shed`: the store's admission control turned the request away before doing any work
  (503 with `X-Peakstore-Shed`) — not an error, and reported as its own request type,
  `SHED`, so it never flatters the latency of served requests;
- `error`: a 5xx, any other unexpected status, or a timeout.
"""

from typing import Any, Protocol

# Status and error code of each refusal a buyer may meet without anything being wrong.
EXPECTED_REFUSALS = frozenset(
    {(409, "insufficient_stock"), (409, "reservation_limit"), (402, "payment_declined")}
)
# What the store answers a bot that behaves like one: throttled (429) on top of the above.
# Never expected of a shopper: each simulated visit is its own client (users.py), so a
# shopper's 429 means a throttle sized below real traffic, and counts as an error.
BOT_REFUSALS = EXPECTED_REFUSALS | {(429, "throttled")}
SHED_HEADER = "X-Peakstore-Shed"
SHED_REQUEST_TYPE = "SHED"
OK, REFUSED, SHED, ERROR = "ok", "refused", "shed", "error"


class Response(Protocol):
    """The part of Locust's response context manager (catch_response=True) used here."""

    status_code: int
    headers: Any
    request_meta: dict[str, Any]

    def json(self) -> Any: ...
    def success(self) -> None: ...
    def failure(self, exc: Any) -> None: ...


def error_code(response: Response) -> str | None:
    """Return the API error's machine-readable code, if the body has one."""
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def _record(response: Response, outcome: str) -> None:
    # A new dict: Locust may share the context it started from between requests.
    response.request_meta["context"] = {
        **(response.request_meta.get("context") or {}),
        "outcome": outcome,
    }


def is_shed(response: Response) -> bool:
    return response.status_code == 503 and bool((response.headers or {}).get(SHED_HEADER))


def outcome_of(request_meta: dict[str, Any]) -> str:
    """The outcome recorded for a finished request (an exception always makes an error)."""
    if request_meta.get("exception") is not None:
        return ERROR
    return (request_meta.get("context") or {}).get("outcome", OK)


def expect(response: Response, *statuses: int) -> bool:
    """Mark the response failed unless its status is one of `statuses`; return success.

    A shed answer is a success for Locust under its own request type; returns False.
    """
    if response.status_code in statuses:
        response.success()
        _record(response, OK)
        return True
    if is_shed(response):
        response.success()
        response.request_meta["request_type"] = SHED_REQUEST_TYPE
        _record(response, SHED)
        return False
    expected = "/".join(map(str, statuses))
    response.failure(f"HTTP {response.status_code}, expected {expected}")
    _record(response, ERROR)
    return False


def expect_or_refusal(
    response: Response, *statuses: int, refusals: frozenset[tuple[int, str]] = EXPECTED_REFUSALS
) -> bool:
    """Like `expect`, but one of `refusals` (status, error code) is a success too.

    True only for `statuses`.
    """
    if (
        response.status_code not in statuses
        and (response.status_code, error_code(response)) in refusals
    ):
        response.success()
        _record(response, REFUSED)
        return False
    return expect(response, *statuses)
