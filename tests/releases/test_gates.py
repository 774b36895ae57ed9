"""The gate as pure functions: interval verdicts and step decisions on simulated streams."""

from dataclasses import replace

from releases.gates import (
    Action,
    CohortSample,
    IntervalSample,
    StepProgress,
    Verdict,
    interval_judge,
    step_decide,
)
from releases.spec import Criteria, Step
from tests.releases.conftest import CohortStream
from toolkit import lab as the_lab

STEPS = (Step(100, min_dwell_s=60, min_samples=90), Step(500, min_dwell_s=60, min_samples=90))
CRITERIA = Criteria(min_interval_samples=30, passes_to_exit=3, max_failures=2, max_inconclusive=2)


def interval(*, canary_s=0.1, control_s=0.1, canary_requests=40, control_requests=400, **extra):
    canary, control = CohortStream(), CohortStream()
    canary.serve(canary_requests, seconds=canary_s, **extra)
    control.serve(control_requests, seconds=control_s)
    return IntervalSample(
        canary=canary.totals().minus(None), control=control.totals().minus(None), seconds=10
    )


def test_cumulative_totals_become_an_interval_sample():
    stream = CohortStream()
    stream.serve(100, seconds=0.05)
    earlier = stream.totals()
    stream.serve(50, seconds=0.4, errors=5)

    sample = stream.totals().minus(earlier)

    assert sample.requests == 50
    assert sample.errors == 5
    assert 0.3 < sample.p95_s <= 0.4


def test_a_restarted_counter_counts_from_zero():
    before = CohortStream()
    before.serve(1_000, seconds=0.05)
    after = CohortStream()
    after.serve(40, seconds=0.05)

    assert after.totals().minus(before.totals()).requests == 40


def test_canary_like_control_passes():
    judgement = interval_judge(interval(), CRITERIA)

    assert judgement.verdict is Verdict.PASS
    assert judgement.reasons == ()


def test_too_few_canary_requests_keep_the_interval_open_then_are_inconclusive():
    young = interval(canary_requests=5)
    old = replace(young, seconds=CRITERIA.max_interval_s)

    assert interval_judge(young, CRITERIA).verdict is Verdict.COLLECTING
    judgement = interval_judge(old, CRITERIA)
    assert judgement.verdict is Verdict.INCONCLUSIVE
    assert "fewer than 30" in judgement.reasons[0]


def test_a_slower_canary_fails_on_the_ratio_to_control():
    judgement = interval_judge(interval(canary_s=0.4, control_s=0.1), CRITERIA)

    assert judgement.verdict is Verdict.FAIL
    assert "x control" in judgement.reasons[0]


def test_a_slightly_slower_canary_is_inconclusive():
    # 0.15 s vs 0.1 s buckets: a ratio between 1.2x and 1.5x
    judgement = interval_judge(interval(canary_s=0.15, control_s=0.1), CRITERIA)

    assert judgement.verdict is Verdict.INCONCLUSIVE
    assert 1.2 < judgement.sample.p95_ratio <= 1.5


def test_an_absolute_p95_limit_fails_even_when_control_is_as_slow():
    criteria = replace(CRITERIA, max_p95_ms=200)

    judgement = interval_judge(interval(canary_s=0.3, control_s=0.3), criteria)

    assert judgement.verdict is Verdict.FAIL
    assert "> 200 ms" in judgement.reasons[0]


def test_errors_fail_on_the_absolute_rate_and_against_control():
    absolute = interval_judge(interval(errors=2), replace(CRITERIA, max_error_rate=0.04))
    relative = interval_judge(interval(errors=1), replace(CRITERIA, max_error_rate=0.5))

    assert absolute.verdict is Verdict.FAIL  # 5% > 4%
    assert relative.verdict is Verdict.FAIL  # 2.5% > 0% x 2 + 0.2%


def test_checkout_completion_is_compared_once_both_cohorts_started_enough():
    canary = CohortSample(requests=40, p95_s=0.1, checkouts_started=20, checkouts_completed=10)
    control = CohortSample(requests=400, p95_s=0.1, checkouts_started=200, checkouts_completed=190)
    few = replace(canary, checkouts_started=5, checkouts_completed=1)

    worse = interval_judge(IntervalSample(canary, control, 10), CRITERIA)
    unjudged = interval_judge(IntervalSample(few, control, 10), CRITERIA)

    assert worse.verdict is Verdict.FAIL
    assert "completion" in worse.reasons[0]
    assert unjudged.verdict is Verdict.PASS


def test_no_control_traffic_is_inconclusive():
    judgement = interval_judge(interval(control_requests=0), CRITERIA)

    assert judgement.verdict is Verdict.INCONCLUSIVE


def run(stream, *, progress=None, frozen=False, criteria=CRITERIA, every=30.0):
    """Feed judged intervals to step_decide; return every decision."""
    progress = progress or StepProgress(step_index=0, step_started_at=0.0)
    decisions, now = [], 0.0
    for sample in stream:
        now += every
        decision = step_decide(
            progress,
            interval_judge(sample, criteria),
            steps=STEPS,
            criteria=criteria,
            now=now,
            frozen=frozen,
        )
        decisions.append(decision)
        progress = decision.progress
    return decisions


def test_passing_intervals_advance_once_dwell_samples_and_passes_are_reached():
    decisions = run([interval()] * 3)

    assert [d.action for d in decisions] == [Action.NONE, Action.NONE, Action.ADVANCE]
    advanced = decisions[-1]
    assert advanced.progress.step_index == 1
    assert advanced.progress.consecutive_passes == 0
    assert advanced.entry_criteria["samples"] == {"value": 120, "required": 90, "met": True}


def test_a_step_does_not_end_before_its_dwell_time():
    decisions = run([interval()] * 3, every=10.0)

    assert all(d.action is Action.NONE for d in decisions)
    assert decisions[-1].entry_criteria["dwell_s"]["met"] is False


def test_the_last_step_completes():
    decisions = run([interval()] * 3, progress=StepProgress(step_index=1, step_started_at=0.0))

    assert decisions[-1].action is Action.COMPLETE


def test_failures_accumulate_across_passes_and_stop_the_exposure():
    bad, good = interval(canary_s=0.5), interval()

    decisions = run([bad, good, good, bad])

    assert [d.action for d in decisions] == [Action.NONE, Action.NONE, Action.NONE, Action.STOP]
    assert decisions[-1].progress.failures == 2
    assert "2 failed intervals (limit 2)" in decisions[-1].reason


def test_inconclusive_intervals_in_a_row_hold_the_step_for_a_person():
    unsure = interval(canary_s=0.15)

    decisions = run([unsure, interval(), unsure, unsure])

    assert [d.action for d in decisions][-1] is Action.HOLD
    assert decisions[1].progress.consecutive_inconclusive == 0  # a pass resets the run
    assert "2 inconclusive intervals in a row" in decisions[-1].reason


def test_a_freeze_window_blocks_the_automatic_advance_but_not_the_stop():
    frozen = run([interval()] * 3, frozen=True)
    stopped = run([interval(canary_s=0.5)] * 2, frozen=True)

    assert frozen[-1].action is Action.FROZEN
    assert frozen[-1].progress.step_index == 0
    assert stopped[-1].action is Action.STOP


def test_campaign_criteria_are_stricter():
    campaign = CRITERIA.for_campaign()
    unsure_normally = interval(canary_s=0.15)  # inconclusive: between 1.2x and 1.5x

    assert campaign.fail_p95_ratio < CRITERIA.fail_p95_ratio
    assert campaign.max_failures == CRITERIA.max_failures - 1
    assert campaign.passes_to_exit == CRITERIA.passes_to_exit + 1
    assert interval_judge(unsure_normally, campaign).verdict is Verdict.FAIL
    assert run([interval(canary_s=0.5)], criteria=campaign)[-1].action is Action.STOP


def test_monitoring_blind_rolls_a_slow_release_out_on_the_clock(lab):
    slow = interval(canary_s=0.5)  # five times control: the gate stops this (above)
    lab("monitoring-blind")

    decisions = run([slow] * 4)

    # no failure counted, no stop: each step once its 60 s dwell is up, then complete
    assert [d.action for d in decisions] == [
        Action.NONE,
        Action.ADVANCE,
        Action.NONE,
        Action.COMPLETE,
    ]
    assert all(d.progress.failures == 0 for d in decisions)


def test_switching_monitoring_blind_off_brings_the_gate_back(lab):
    lab("monitoring-blind")
    the_lab.switch("monitoring-blind", on=False, actor="test")

    decisions = run([interval(canary_s=0.5)] * 4)

    assert Action.STOP in [d.action for d in decisions]
    assert Action.ADVANCE not in [d.action for d in decisions]
