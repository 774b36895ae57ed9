"""Which answers count as errors in a load run."""

import json

import pytest

from loadtests.outcomes import BOT_REFUSALS, expect, expect_or_refusal, outcome_of


class FakeResponse:
    """Stands in for Locust's response context manager; records the verdict."""

    def __init__(self, status_code: int, body: object = None, headers: dict | None = None):
        self.status_code = status_code
        self.body = json.dumps(body) if body is not None else "<html>"
        self.headers = headers or {}
        self.request_meta = {"request_type": "GET", "context": {}, "exception": None}
        self.verdict: str | None = None

    def json(self):
        return json.loads(self.body)

    def success(self):
        self.verdict = "success"

    def failure(self, exc):
        self.verdict = f"failure: {exc}"


def _error(code: str) -> dict:
    return {"error": {"code": code, "message": "", "details": {}}}


def test_the_expected_status_is_a_success():
    response = FakeResponse(201)

    assert expect_or_refusal(response, 201) is True
    assert response.verdict == "success"


@pytest.mark.parametrize(
    ("status", "code"),
    [(409, "insufficient_stock"), (409, "reservation_limit"), (402, "payment_declined")],
)
def test_a_refusal_a_shopper_may_meet_is_a_success_but_not_a_completion(status, code):
    response = FakeResponse(status, _error(code))

    assert expect_or_refusal(response, 201) is False
    assert response.verdict == "success"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, None),
        (503, _error("payment_unavailable")),
        (409, _error("idempotency_key_reused")),
        (402, None),
        (0, None),  # Locust's status for a timeout or a refused connection
    ],
)
def test_server_errors_timeouts_and_other_refusals_are_failures(status, body):
    response = FakeResponse(status, body)

    assert expect_or_refusal(response, 201) is False
    assert response.verdict.startswith("failure: HTTP")


def test_a_throttled_shopper_is_an_error_a_throttled_bot_is_expected():
    # Each simulated visit is its own client: a shopper meeting a throttle means the
    # throttle is sized below real traffic. The bot is one client and is meant to.
    shopper, bot = FakeResponse(429, _error("throttled")), FakeResponse(429, _error("throttled"))

    assert expect_or_refusal(shopper, 201) is False
    assert shopper.verdict.startswith("failure: HTTP 429")
    assert expect_or_refusal(bot, 201, refusals=BOT_REFUSALS) is False
    assert bot.verdict == "success"


def test_expect_fails_a_redirect_where_a_page_was_due():
    response = FakeResponse(302)

    assert expect(response, 200) is False
    assert response.verdict == "failure: HTTP 302, expected 200"


def test_a_shed_answer_is_its_own_outcome_not_an_error():
    # given the store's admission control turning a request away
    response = FakeResponse(503, headers={"X-Peakstore-Shed": "bot"})

    # then it is no success of the journey, but no failure either
    assert expect(response, 200) is False
    assert response.verdict == "success"
    assert response.request_meta["request_type"] == "SHED"
    assert outcome_of(response.request_meta) == "shed"


def test_a_503_without_the_shed_header_is_an_error():
    response = FakeResponse(503, _error("payment_unavailable"))

    assert expect_or_refusal(response, 201) is False
    assert response.verdict.startswith("failure")
    assert outcome_of(response.request_meta) == "error"


def test_outcomes_are_recorded_for_the_event_log():
    served, refused = FakeResponse(201), FakeResponse(409, _error("insufficient_stock"))

    expect_or_refusal(served, 201)
    expect_or_refusal(refused, 201)

    assert outcome_of(served.request_meta) == "ok"
    assert outcome_of(refused.request_meta) == "refused"
    assert outcome_of({"exception": TimeoutError(), "context": {"outcome": "ok"}}) == "error"
