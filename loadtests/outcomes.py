"""What counts as an error in a load run. Kept free of Locust imports so tests can use it.

A shopper meeting a sold-out item or a declined card is the store working as designed:
those answers are successes. A 5xx, any other unexpected status, or a timeout is an error.
"""

from typing import Any, Protocol

# Status and error code of each refusal a buyer may meet without anything being wrong.
EXPECTED_REFUSALS = {409: "insufficient_stock", 402: "payment_declined"}


class Response(Protocol):
    """The part of Locust's response context manager (catch_response=True) used here."""

    status_code: int

    def json(self) -> Any: ...
    def success(self) -> None: ...
    def failure(self, exc: Any) -> None: ...


def error_code(response: Response) -> str | None:
    """Return the API error's machine-readable code, if the body has one."""
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def expect(response: Response, *statuses: int) -> bool:
    """Mark the response failed unless its status is one of `statuses`; return success."""
    if response.status_code in statuses:
        response.success()
        return True
    expected = "/".join(map(str, statuses))
    response.failure(f"HTTP {response.status_code}, expected {expected}")
    return False


def expect_or_refusal(response: Response, *statuses: int) -> bool:
    """Like `expect`, but an expected refusal is a success too. True only for `statuses`."""
    if response.status_code in statuses:
        response.success()
        return True
    refusal = EXPECTED_REFUSALS.get(response.status_code)
    if refusal is not None and refusal == error_code(response):
        response.success()
        return False
    return expect(response, *statuses)
