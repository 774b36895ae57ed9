"""The open-loop generator: its arrival schedule, its lateness accounting, its client's parsing.

No server and no timing assertion: the schedule is seeded, lateness is computed from
given times, and the one test that runs the loop uses a target that never answers.
"""

import asyncio
import itertools
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from loadtests.openloop import (
    UNSENT,
    Arrival,
    Outcome,
    Request,
    arrival_offsets,
    lateness_summarize,
    open_loop_run,
    response_read,
    samples_parse,
    schedule_build,
)
from loadtests.results import sample_key

ROOT = Path(__file__).resolve().parents[2]


def _outcome(*, scheduled: float, sent: float, error: str = "") -> Outcome:
    return Outcome("category", "browse", scheduled, sent, sent + 0.01, 200, "", error)


def test_poisson_arrivals_come_at_the_rate_asked_in_order_within_the_phase():
    offsets = arrival_offsets(rate=200, duration_s=30, rng=random.Random(1), max_count=100_000)

    assert 0.95 * 6000 < len(offsets) < 1.05 * 6000
    assert offsets == sorted(offsets)
    assert offsets[0] >= 0
    assert offsets[-1] < 30
    # exponential gaps: irregular, unlike a closed loop's or a timer's
    gaps = [later - earlier for earlier, later in itertools.pairwise(offsets)]
    assert max(gaps) > 5 * min(gaps)


def test_evenly_spaced_arrivals_are_one_period_apart():
    offsets = arrival_offsets(
        rate=4, duration_s=1, rng=random.Random(1), poisson=False, max_count=100
    )

    assert offsets == [0.0, 0.25, 0.5, 0.75]


def test_a_phase_is_bounded_by_its_request_count_too():
    offsets = arrival_offsets(rate=1000, duration_s=60, rng=random.Random(2), max_count=500)

    assert len(offsets) == 500


def test_no_rate_or_no_time_means_no_arrivals():
    assert arrival_offsets(rate=0, duration_s=10, rng=random.Random(3), max_count=10) == []
    assert arrival_offsets(rate=10, duration_s=0, rng=random.Random(3), max_count=10) == []


def test_the_schedule_is_built_ahead_one_request_per_send_time():
    requests = iter([Request(f"r{n}", "browse", "GET", f"/{n}") for n in range(3)])

    schedule = schedule_build(lambda rng: next(requests), [0.1, 0.2, 0.4], random.Random(4))

    assert [(arrival.at, arrival.request.name) for arrival in schedule] == [
        (0.1, "r0"),
        (0.2, "r1"),
        (0.4, "r2"),
    ]


def test_lateness_is_the_send_time_past_the_scheduled_time():
    # given 100 requests sent 0.5 ms late, one 40 ms late, and one never sent
    outcomes = [_outcome(scheduled=n, sent=n + 0.0005) for n in range(100)]
    outcomes.append(_outcome(scheduled=200, sent=200.04))
    outcomes.append(_outcome(scheduled=300, sent=300, error=UNSENT))

    lateness = lateness_summarize(outcomes, late_after_s=0.001)

    assert lateness.sent == 101
    assert lateness.unsent == 1
    assert round(lateness.p50_ms, 3) == 0.5
    assert round(lateness.max_ms, 3) == 40.0
    assert lateness.late_share == 1 / 101


def test_a_generator_that_falls_behind_shows_a_growing_lateness():
    # given a generator that sends every request 10 ms after the previous one, while
    # the schedule asks for one every millisecond
    outcomes = [_outcome(scheduled=n * 0.001, sent=n * 0.01) for n in range(100)]

    lateness = lateness_summarize(outcomes)

    assert lateness.p99_ms > 800
    assert lateness.late_share > 0.9


class _SilentTarget:
    """A server that accepts every request and answers none until told to."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.answer = asyncio.Event()

    async def send(self, request: Request, *, scheduled: float) -> Outcome:
        self.sent.append(request.name)
        await self.answer.wait()
        return Outcome(request.name, request.route_class, scheduled, scheduled, scheduled, 200, "")


async def _until(condition: Callable[[], bool]) -> None:
    """Let the loop run until `condition` holds, or give up after a few thousand turns."""
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)


def test_each_request_starts_at_its_time_without_waiting_for_earlier_answers():
    async def scenario() -> tuple[list[str], list[Outcome]]:
        target = _SilentTarget()
        schedule = [Arrival(n * 0.001, Request(f"r{n}", "browse", "GET", "/")) for n in range(5)]
        run = asyncio.create_task(open_loop_run(target, schedule))  # type: ignore[arg-type]  # a stand-in Target
        await _until(lambda: len(target.sent) == 5)
        sent_before_any_answer = list(target.sent)
        target.answer.set()
        _, outcomes = await run
        return sent_before_any_answer, outcomes

    sent, outcomes = asyncio.run(scenario())

    assert sent == ["r0", "r1", "r2", "r3", "r4"]
    assert [outcome.status for outcome in outcomes] == [200] * 5


def test_arrivals_past_the_in_flight_cap_are_counted_unsent_not_queued():
    async def scenario() -> list[Outcome]:
        target = _SilentTarget()
        schedule = [Arrival(0.0, Request(f"r{n}", "browse", "GET", "/")) for n in range(3)]
        run = asyncio.create_task(
            open_loop_run(target, schedule, max_in_flight=2)  # type: ignore[arg-type]  # a stand-in Target
        )
        await _until(lambda: len(target.sent) == 2)
        target.answer.set()
        return (await run)[1]

    outcomes = asyncio.run(scenario())

    assert sorted(outcome.error for outcome in outcomes) == ["", "", UNSENT]


def test_a_shed_answer_is_read_with_its_class():
    raw = (
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\n"
        b"X-Peakstore-Shed: deep_browse\r\nContent-Length: 4\r\n\r\nbusy"
    )

    assert response_read(raw) == (503, "deep_browse")
    assert response_read(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == (200, "")
    assert response_read(b"") == (0, "")


def test_a_post_carries_its_body_and_length_and_every_request_closes_its_connection():
    request = Request("cart-add", "critical", "POST", "/api/v1/carts/t/lines/", body=b'{"a":1}')

    encoded = request.encode("127.0.0.1:8900")

    head, body = encoded.split(b"\r\n\r\n")
    assert head.startswith(b"POST /api/v1/carts/t/lines/ HTTP/1.1\r\nHost: 127.0.0.1:8900")
    assert b"Content-Length: 7" in head
    assert b"Connection: close" in head
    assert body == b'{"a":1}'


def test_metrics_are_kept_by_name_prefix_and_keyed_with_sorted_labels():
    text = "\n".join(
        [
            "# HELP peakstore_admission_expected_wait_seconds Wait.",
            "peakstore_admission_expected_wait_seconds 0.25",
            'peakstore_requests_shed_total{route_class="bot"} 7.0',
            'peakstore_http_request_duration_seconds_bucket{le="0.1",route="x"} 3.0',
        ]
    )

    samples = samples_parse(
        text, prefixes=("peakstore_admission_", "peakstore_requests_shed_total")
    )

    assert samples == {
        "peakstore_admission_expected_wait_seconds": 0.25,
        sample_key("peakstore_requests_shed_total", {"route_class": "bot"}): 7.0,
    }


def test_the_generator_imports_neither_django_nor_the_store():
    code = (
        "import sys, loadtests.openloop, loadtests.overload\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'storefront', 'catalog', 'checkout', 'devstack', 'toolkit'}]\n"
        "print(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "[]"
