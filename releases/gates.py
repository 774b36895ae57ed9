"""The gate: pure functions that judge canary traffic against control and decide a step.

No database, no clock, no metrics library: the evaluator hands in cumulative cohort
totals and the time, so a test can drive a whole rollout with a simulated metric stream.

An *interval* is the traffic between two judgements. It closes once the canary served
`min_interval_samples` requests (or after `max_interval_s`, inconclusive for lack of
samples). Each closed interval passes, fails or is inconclusive; the step decision then:

- stops the exposure (back to 0%) once failed intervals reach `max_failures`,
  counted over the whole exposure (failures do not reset when a step advances);
- holds the step for a person after `max_inconclusive` inconclusive intervals in a row;
- advances when the step's exit criteria hold: `passes_to_exit` passing intervals in a
  row, the step's dwell time and sample size reached (the next step's entry criteria:
  the previous step passed with enough samples), unless a freeze window is open;
- completes after the last step passes.

The failure-mode lab's mode `monitoring-blind` (`_on_schedule`) is the naive rollout:
every step on its dwell time, no judgement. Asking whether it is on costs nothing while
the lab is disabled, as it always is in production.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum

from perfstats.quantiles import bucket_delta, histogram_quantile
from releases.spec import Criteria, Step
from toolkit.lab import mode_on


class Verdict(StrEnum):
    COLLECTING = "collecting"  # the interval is still open: not enough samples yet
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Action(StrEnum):
    NONE = "none"
    ADVANCE = "advance"
    COMPLETE = "complete"
    HOLD = "hold"
    STOP = "stop"
    FROZEN = "frozen"  # the step passed, but a freeze window forbids advancing alone


# ---- cohort totals and interval samples ---------------------------------------------


@dataclass(frozen=True)
class CohortTotals:
    """Cumulative counts for one cohort of one flag (as Prometheus exposes them)."""

    requests: float = 0.0
    buckets: tuple[tuple[float, float], ...] = ()  # (upper bound s, cumulative count)
    errors: float = 0.0
    timeouts: float = 0.0
    checkouts_started: float = 0.0
    checkouts_completed: float = 0.0

    def minus(self, earlier: CohortTotals | None) -> CohortSample:
        """Return what happened between `earlier` and these totals.

        A counter lower than before (its processes restarted) counts from zero.
        """
        if earlier is None or self.requests < earlier.requests:
            earlier = CohortTotals()
        return CohortSample(
            requests=int(self.requests - earlier.requests),
            p95_s=histogram_quantile(0.95, bucket_delta(self.buckets, earlier.buckets)),
            errors=int(max(self.errors - earlier.errors, 0)),
            timeouts=int(max(self.timeouts - earlier.timeouts, 0)),
            checkouts_started=int(max(self.checkouts_started - earlier.checkouts_started, 0)),
            checkouts_completed=int(max(self.checkouts_completed - earlier.checkouts_completed, 0)),
        )

    def to_json(self) -> dict:
        # JSON has no infinity: the +Inf bound is written as Prometheus writes it.
        buckets = [[le if math.isfinite(le) else "+Inf", count] for le, count in self.buckets]
        return {**asdict(self), "buckets": buckets}

    @classmethod
    def from_json(cls, data: dict | None) -> CohortTotals | None:
        if not data:
            return None
        buckets = tuple((float(le), count) for le, count in data["buckets"])
        return cls(**{**data, "buckets": buckets})


@dataclass(frozen=True)
class CohortSample:
    """One cohort's traffic over one interval."""

    requests: int = 0
    p95_s: float | None = None
    errors: int = 0
    timeouts: int = 0
    checkouts_started: int = 0
    checkouts_completed: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def timeout_rate(self) -> float | None:
        return self.timeouts / self.requests if self.requests else None

    @property
    def completion(self) -> float | None:
        if not self.checkouts_started:
            return None
        return self.checkouts_completed / self.checkouts_started

    def snapshot(self) -> dict:
        return {
            "requests": self.requests,
            "p95_ms": None if self.p95_s is None else round(self.p95_s * 1000, 1),
            "error_rate": _round(self.error_rate),
            "timeout_rate": _round(self.timeout_rate),
            "checkouts_started": self.checkouts_started,
            "checkout_completion": _round(self.completion),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class IntervalSample:
    canary: CohortSample
    control: CohortSample
    seconds: float

    @property
    def p95_ratio(self) -> float | None:
        if self.canary.p95_s is None or not self.control.p95_s:
            return None
        return self.canary.p95_s / self.control.p95_s


@dataclass(frozen=True)
class IntervalJudgement:
    verdict: Verdict
    reasons: tuple[str, ...]
    sample: IntervalSample

    def snapshot(self) -> dict:
        ratio = self.sample.p95_ratio
        return {
            "verdict": str(self.verdict),
            "reasons": list(self.reasons),
            "seconds": round(self.sample.seconds, 1),
            "p95_ratio": None if ratio is None else round(ratio, 2),
            "canary": self.sample.canary.snapshot(),
            "control": self.sample.control.snapshot(),
        }


# ---- judging one interval -------------------------------------------------------------


def interval_judge(sample: IntervalSample, criteria: Criteria) -> IntervalJudgement:
    """Judge one interval of canary traffic against control.

    COLLECTING while the interval is young and the canary has too few requests; after
    `max_interval_s` with too few, INCONCLUSIVE. A failed check beats an inconclusive one.
    """
    canary = sample.canary
    if canary.requests < criteria.min_interval_samples:
        if sample.seconds < criteria.max_interval_s:
            return IntervalJudgement(Verdict.COLLECTING, (), sample)
        return IntervalJudgement(
            Verdict.INCONCLUSIVE,
            (
                f"canary served {canary.requests} requests in {sample.seconds:.0f} s, "
                f"fewer than {criteria.min_interval_samples}",
            ),
            sample,
        )
    failures, doubts = _latency_findings(sample, criteria)
    failures += _rate_failures(sample, criteria)
    failures += _completion_failures(sample, criteria)
    if failures:
        return IntervalJudgement(Verdict.FAIL, tuple(failures), sample)
    if doubts:
        return IntervalJudgement(Verdict.INCONCLUSIVE, tuple(doubts), sample)
    return IntervalJudgement(Verdict.PASS, (), sample)


def _latency_findings(sample: IntervalSample, criteria: Criteria) -> tuple[list[str], list[str]]:
    """Return the latency checks that failed and those that could not decide.

    Latency is the one check that can be in doubt: a p95 ratio between `max_p95_ratio`
    and `fail_p95_ratio` is too close to call, and a control without a p95 gives none.
    """
    failures: list[str] = []
    doubts: list[str] = []
    canary = sample.canary
    p95_ms = None if canary.p95_s is None else canary.p95_s * 1000
    if criteria.max_p95_ms is not None and p95_ms is not None and p95_ms > criteria.max_p95_ms:
        failures.append(f"canary p95 {p95_ms:.0f} ms > {criteria.max_p95_ms:.0f} ms")
    ratio = sample.p95_ratio
    if ratio is None:
        doubts.append(f"control served {sample.control.requests} requests: no p95 to compare")
    elif ratio > criteria.fail_p95_ratio:
        failures.append(f"canary p95 {ratio:.2f}x control > {criteria.fail_p95_ratio:.2f}x")
    elif ratio > criteria.max_p95_ratio:
        doubts.append(
            f"canary p95 {ratio:.2f}x control, between {criteria.max_p95_ratio:.2f}x "
            f"and {criteria.fail_p95_ratio:.2f}x"
        )
    return failures, doubts


def _rate_failures(sample: IntervalSample, criteria: Criteria) -> list[str]:
    """Return the error and timeout rates that fail, absolutely or against control.

    Call only once the canary served requests: its rates are then numbers.
    """
    canary, control = sample.canary, sample.control
    failures: list[str] = []
    for name, rate, control_rate, limit in (
        ("error rate", canary.error_rate, control.error_rate, criteria.max_error_rate),
        ("timeout rate", canary.timeout_rate, control.timeout_rate, criteria.max_timeout_rate),
    ):
        rate = rate or 0.0
        if rate > limit:
            failures.append(f"canary {name} {rate:.2%} > {limit:.2%}")
        elif control_rate is not None:
            allowed = control_rate * criteria.max_rate_ratio + criteria.rate_slack
            if rate > allowed:
                failures.append(
                    f"canary {name} {rate:.2%} > control {control_rate:.2%} "
                    f"x {criteria.max_rate_ratio:g} + {criteria.rate_slack:.2%}"
                )
    return failures


def _completion_failures(sample: IntervalSample, criteria: Criteria) -> list[str]:
    """Return the checkout completion failure, if both cohorts started enough checkouts.

    Below `min_checkouts` in either cohort a completion ratio is too noisy to judge.
    """
    canary, control = sample.canary, sample.control
    if (
        canary.checkouts_started < criteria.min_checkouts
        or control.checkouts_started < criteria.min_checkouts
    ):
        return []
    canary_completion = canary.checkouts_completed / canary.checkouts_started
    control_completion = control.checkouts_completed / control.checkouts_started
    if canary_completion < control_completion * criteria.min_completion_ratio:
        return [
            f"canary checkout completion {canary_completion:.1%} < "
            f"{criteria.min_completion_ratio:g} x control {control_completion:.1%}"
        ]
    return []


# ---- deciding the step ----------------------------------------------------------------


@dataclass(frozen=True)
class StepProgress:
    """Where a running exposure stands; persisted on the flag between judgements."""

    step_index: int
    step_started_at: float
    step_samples: int = 0
    consecutive_passes: int = 0
    consecutive_inconclusive: int = 0
    failures: int = 0  # cumulative over the exposure


@dataclass(frozen=True)
class StepDecision:
    action: Action
    reason: str
    progress: StepProgress
    entry_criteria: dict = field(default_factory=dict)


def step_exit_status(progress: StepProgress, *, step: Step, criteria: Criteria, now: float) -> dict:
    """Return each exit criterion of the current step with whether it holds."""
    dwell = now - progress.step_started_at
    return {
        "consecutive_passes": {
            "value": progress.consecutive_passes,
            "required": criteria.passes_to_exit,
            "met": progress.consecutive_passes >= criteria.passes_to_exit,
        },
        "dwell_s": {
            "value": round(dwell, 1),
            "required": step.min_dwell_s,
            "met": dwell >= step.min_dwell_s,
        },
        "samples": {
            "value": progress.step_samples,
            "required": step.min_samples,
            "met": progress.step_samples >= step.min_samples,
        },
    }


def step_decide(
    progress: StepProgress,
    judgement: IntervalJudgement,
    *,
    steps: tuple[Step, ...],
    criteria: Criteria,
    now: float,
    frozen: bool = False,
) -> StepDecision:
    """Fold one closed interval into the step's progress and decide what to do."""
    verdict = judgement.verdict
    if verdict is Verdict.COLLECTING:
        return StepDecision(Action.NONE, "", progress)
    if mode_on("monitoring-blind"):
        return _on_schedule(progress, steps=steps, now=now)
    progress = replace(
        progress, step_samples=progress.step_samples + judgement.sample.canary.requests
    )
    if verdict is Verdict.FAIL:
        return _after_failure(progress, judgement, criteria=criteria)
    if verdict is Verdict.INCONCLUSIVE:
        return _after_inconclusive(progress, judgement, criteria=criteria)
    return _after_pass(progress, steps=steps, criteria=criteria, now=now, frozen=frozen)


def _on_schedule(progress: StepProgress, *, steps: tuple[Step, ...], now: float) -> StepDecision:
    """The naive rollout (lab mode `monitoring-blind`): each step once its dwell time is
    up, whatever the canary did. Nothing compares it with control or with its criteria,
    so a slow release grows to 100% and only the funnel notices, late."""
    step = steps[progress.step_index]
    if now - progress.step_started_at < step.min_dwell_s:
        return StepDecision(Action.NONE, "", progress)
    if progress.step_index == len(steps) - 1:
        return StepDecision(Action.COMPLETE, f"last step ({step.percent:g}%) dwelt", progress)
    return StepDecision(
        Action.ADVANCE,
        f"step {step.percent:g}% dwelt {step.min_dwell_s} s (on schedule)",
        StepProgress(step_index=progress.step_index + 1, step_started_at=now),
    )


def _after_failure(
    progress: StepProgress, judgement: IntervalJudgement, *, criteria: Criteria
) -> StepDecision:
    """Count a failed interval; stop the exposure once failures reach the limit."""
    progress = replace(
        progress,
        failures=progress.failures + 1,
        consecutive_passes=0,
        consecutive_inconclusive=0,
    )
    if progress.failures >= criteria.max_failures:
        return StepDecision(
            Action.STOP,
            f"{progress.failures} failed intervals (limit {criteria.max_failures}); "
            f"last: {'; '.join(judgement.reasons)}",
            progress,
        )
    return StepDecision(Action.NONE, "; ".join(judgement.reasons), progress)


def _after_inconclusive(
    progress: StepProgress, judgement: IntervalJudgement, *, criteria: Criteria
) -> StepDecision:
    """Count an inconclusive interval; hold for a person after too many in a row."""
    progress = replace(
        progress,
        consecutive_passes=0,
        consecutive_inconclusive=progress.consecutive_inconclusive + 1,
    )
    if progress.consecutive_inconclusive >= criteria.max_inconclusive:
        return StepDecision(
            Action.HOLD,
            f"{progress.consecutive_inconclusive} inconclusive intervals in a row; "
            f"last: {'; '.join(judgement.reasons)}",
            progress,
        )
    return StepDecision(Action.NONE, "; ".join(judgement.reasons), progress)


def _after_pass(
    progress: StepProgress,
    *,
    steps: tuple[Step, ...],
    criteria: Criteria,
    now: float,
    frozen: bool,
) -> StepDecision:
    """Count a passing interval; once the step's exit criteria hold, leave the step.

    Leaving is completing after the last step, noting the freeze while one is open, and
    otherwise advancing to the next step with fresh step progress.
    """
    progress = replace(
        progress,
        consecutive_passes=progress.consecutive_passes + 1,
        consecutive_inconclusive=0,
    )
    step = steps[progress.step_index]
    status = step_exit_status(progress, step=step, criteria=criteria, now=now)
    if not all(item["met"] for item in status.values()):
        return StepDecision(Action.NONE, "", progress, status)
    if progress.step_index == len(steps) - 1:
        return StepDecision(
            Action.COMPLETE, f"last step ({step.percent:g}%) passed", progress, status
        )
    if frozen:
        return StepDecision(
            Action.FROZEN,
            f"step {step.percent:g}% passed; a freeze window is open",
            progress,
            status,
        )
    return StepDecision(
        Action.ADVANCE,
        f"step {step.percent:g}% passed: {progress.consecutive_passes} passing intervals, "
        f"{progress.step_samples} samples",
        replace(
            progress,
            step_index=progress.step_index + 1,
            step_started_at=now,
            step_samples=0,
            consecutive_passes=0,
            consecutive_inconclusive=0,
        ),
        status,
    )
