"""Every change to a release, by a person or by the gate, and its audit record.

People act through `release_decide` (the `rollout` command, the admin and `/ops/` all
call it); it checks the actor's permission (`releases.<action>_releaseflag`). The gate
acts through `releases_evaluate` (a Celery beat task every few seconds). Either way the
flag row is locked, the decision is recorded with actor, step, criteria and a metrics
snapshot, and the snapshot the request path reads is republished after commit.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from releases import metrics
from releases.gates import (
    Action,
    CohortTotals,
    IntervalJudgement,
    IntervalSample,
    StepDecision,
    StepProgress,
    Verdict,
    interval_judge,
    step_decide,
    step_exit_status,
)
from releases.hashing import BASIS_POINTS
from releases.models import (
    DeployStep,
    ReleaseDecision,
    ReleaseFlag,
    ReleaseStatus,
    ReleaseWindow,
    ReleaseWindowKind,
)
from releases.spec import FLAGS, Criteria, FlagKind, FlagSpec, flag_spec
from releases.state import snapshot_ensure, snapshot_publish_on_commit
from toolkit.errors import DomainError

HUMAN_ACTIONS = ("start", "advance", "hold", "stop", "resume")
GATE_ACTOR = "gate"
RECENT_INTERVALS = 20


class ReleasePermissionDenied(DomainError):
    code = "release_permission_denied"
    status = 403


class ReleaseActionInvalid(DomainError):
    code = "release_action_invalid"
    status = 409


def release_permission(action: str) -> str:
    """The Django permission that grants `action` (e.g. `releases.stop_releaseflag`)."""
    return f"releases.{action}_releaseflag"


def release_windows_active(*, now: datetime) -> tuple[bool, bool]:
    """Return (campaign, freeze): whether each kind of window is open now. One query."""
    kinds = set(
        ReleaseWindow.objects.filter(starts_at__lte=now, ends_at__gt=now).values_list(
            "kind", flat=True
        )
    )
    return ReleaseWindowKind.CAMPAIGN in kinds, ReleaseWindowKind.FREEZE in kinds


def criteria_in_force(spec: FlagSpec, *, campaign: bool) -> Criteria:
    return spec.criteria.for_campaign() if campaign else spec.criteria


def _flag_locked(spec: FlagSpec) -> ReleaseFlag:
    """The flag's row, locked for this transaction (created with its defaults)."""
    defaults = {}
    if spec.kind is FlagKind.KILL_SWITCH:
        defaults = {"status": ReleaseStatus.COMPLETE, "step_index": 0, "exposure_bp": BASIS_POINTS}
    flag, _ = ReleaseFlag.objects.select_for_update().get_or_create(
        name=spec.name, defaults=defaults
    )
    return flag


def _to_step(flag: ReleaseFlag, spec: FlagSpec, index: int, *, now: datetime) -> None:
    """Move the flag to step `index` with fresh step progress and a new interval."""
    flag.step_index = index
    flag.exposure_bp = spec.steps[index].basis_points
    flag.step_started_at = now
    flag.step_samples = flag.consecutive_passes = flag.consecutive_inconclusive = 0
    flag.interval_started_at = None
    flag.interval_baseline = {}
    flag.frozen_noted = False


def _record(
    flag: ReleaseFlag,
    *,
    action: str,
    actor: str,
    automatic: bool,
    before: tuple[str, int],
    reason: str,
    criteria: Criteria,
    metrics_snapshot: dict[str, Any],
    now: datetime,
) -> ReleaseDecision:
    flag.save()
    snapshot_publish_on_commit()
    return ReleaseDecision.objects.create(
        flag=flag,
        at=now,
        action=action,
        actor=actor,
        automatic=automatic,
        status_before=before[0],
        status_after=flag.status,
        step_index=flag.step_index,
        exposure_before_bp=before[1],
        exposure_after_bp=flag.exposure_bp,
        reason=reason,
        criteria=asdict(criteria),
        metrics=metrics_snapshot,
    )


def _progress(flag: ReleaseFlag) -> StepProgress:
    return StepProgress(
        step_index=max(flag.step_index, 0),
        step_started_at=flag.step_started_at.timestamp() if flag.step_started_at else 0.0,
        step_samples=flag.step_samples,
        consecutive_passes=flag.consecutive_passes,
        consecutive_inconclusive=flag.consecutive_inconclusive,
        failures=flag.failures,
    )


def _evidence(
    flag: ReleaseFlag, spec: FlagSpec, criteria: Criteria, now: datetime
) -> dict[str, Any]:
    """The metrics snapshot a decision records: recent intervals and exit criteria."""
    evidence: dict[str, Any] = {
        "recent_intervals": flag.recent_intervals[-5:],
        "failures": flag.failures,
    }
    if flag.step_index >= 0 and spec.kind is FlagKind.ROLLOUT:
        evidence["exit_criteria"] = step_exit_status(
            _progress(flag),
            step=spec.steps[flag.step_index],
            criteria=criteria,
            now=now.timestamp(),
        )
    return evidence


def release_decide(
    *,
    name: str,
    action: str,
    actor: AbstractUser | AnonymousUser,
    reason: str = "",
    now: datetime | None = None,
) -> ReleaseDecision:
    """Apply a person's decision to flag `name`, if they hold its permission.

    Raise ReleasePermissionDenied without the permission, ReleaseActionInvalid when the
    flag's status does not allow the action. Two queries for the window check and lock.
    """
    if action not in HUMAN_ACTIONS:
        raise ReleaseActionInvalid(f"unknown action {action!r}; one of {', '.join(HUMAN_ACTIONS)}")
    if not (
        actor.is_authenticated and actor.is_active and actor.has_perm(release_permission(action))
    ):
        raise ReleasePermissionDenied(
            f"{actor or 'anonymous'} may not {action} releases "
            f"(needs the permission {release_permission(action)})"
        )
    spec = flag_spec(name)
    now = now or timezone.now()
    campaign, _ = release_windows_active(now=now)
    criteria = criteria_in_force(spec, campaign=campaign)
    with transaction.atomic():
        flag = _flag_locked(spec)
        before = (flag.status, flag.exposure_bp)
        evidence = _evidence(flag, spec, criteria, now)
        _apply_human(flag, spec, action, now=now)
        return _record(
            flag,
            action=action,
            actor=actor.get_username(),
            automatic=False,
            before=before,
            reason=reason,
            criteria=criteria,
            metrics_snapshot=evidence,
            now=now,
        )


# What a person may do in each state: the buttons /ops/ offers (`_apply_human` enforces).
ROLLOUT_ACTIONS: dict[str, tuple[str, ...]] = {
    ReleaseStatus.DRAFT: ("start",),
    ReleaseStatus.RUNNING: ("advance", "hold", "stop"),
    ReleaseStatus.HELD: ("advance", "resume", "stop"),
    ReleaseStatus.STOPPED: ("resume",),
    ReleaseStatus.COMPLETE: ("stop",),
}


def release_actions_available(*, spec: FlagSpec, status: str) -> tuple[str, ...]:
    """The human actions a flag's state allows (its declared default if never stored)."""
    if spec.kind is FlagKind.KILL_SWITCH:
        return ("resume",) if status == ReleaseStatus.STOPPED else ("stop",)
    return ROLLOUT_ACTIONS.get(status, ("start",))


def _apply_human(flag: ReleaseFlag, spec: FlagSpec, action: str, *, now: datetime) -> None:
    status = ReleaseStatus(flag.status)

    def refuse() -> None:
        raise ReleaseActionInvalid(f"{spec.name} is {status.value}: cannot {action} it")

    if spec.kind is FlagKind.KILL_SWITCH:
        if action == "stop" and status is not ReleaseStatus.STOPPED:
            flag.status, flag.exposure_bp = ReleaseStatus.STOPPED, 0
        elif action in ("resume", "start") and status is ReleaseStatus.STOPPED:
            flag.status, flag.exposure_bp = ReleaseStatus.COMPLETE, BASIS_POINTS
        else:
            refuse()
        return
    if action == "start":
        if status not in (ReleaseStatus.DRAFT, ReleaseStatus.STOPPED):
            refuse()
        flag.status, flag.failures, flag.recent_intervals = ReleaseStatus.RUNNING, 0, []
        _to_step(flag, spec, 0, now=now)
    elif action == "advance":
        if status not in (ReleaseStatus.RUNNING, ReleaseStatus.HELD):
            refuse()
        if flag.step_index + 1 < len(spec.steps):
            _to_step(flag, spec, flag.step_index + 1, now=now)
        else:
            flag.status = ReleaseStatus.COMPLETE
    elif action == "hold":
        if status is not ReleaseStatus.RUNNING:
            refuse()
        flag.status = ReleaseStatus.HELD
    elif action == "stop":
        if status not in (ReleaseStatus.RUNNING, ReleaseStatus.HELD, ReleaseStatus.COMPLETE):
            refuse()
        flag.status, flag.exposure_bp = ReleaseStatus.STOPPED, 0
    elif action == "resume":
        if status is ReleaseStatus.HELD:
            flag.status = ReleaseStatus.RUNNING
            flag.consecutive_passes = flag.consecutive_inconclusive = 0
        elif status is ReleaseStatus.STOPPED:
            # Back to the first step with a clean slate: what failed is being retried.
            flag.status, flag.failures = ReleaseStatus.RUNNING, 0
            _to_step(flag, spec, 0, now=now)
        else:
            refuse()


def releases_evaluate(
    *, totals: dict[tuple[str, str], CohortTotals] | None = None, now: datetime | None = None
) -> list[ReleaseDecision]:
    """Judge every running or held rollout on its cohorts' metrics; act on the verdicts.

    `totals` are cumulative (flag, cohort) totals, read from the metrics when omitted.
    Returns the decisions taken (an advance, a stop, a hold, a completion).
    """
    snapshot_ensure()
    now = now or timezone.now()
    names = list(
        ReleaseFlag.objects.filter(
            name__in=[spec.name for spec in FLAGS.values() if spec.kind is FlagKind.ROLLOUT],
            status__in=(ReleaseStatus.RUNNING, ReleaseStatus.HELD),
        ).values_list("name", flat=True)
    )
    if not names:
        return []
    if totals is None:
        totals = metrics.cohort_totals_read()
    campaign, freeze = release_windows_active(now=now)
    decisions = []
    for name in names:
        decision = _evaluate_one(flag_spec(name), totals, now=now, campaign=campaign, freeze=freeze)
        if decision is not None:
            decisions.append(decision)
    return decisions


def _evaluate_one(
    spec: FlagSpec,
    totals: dict[tuple[str, str], CohortTotals],
    *,
    now: datetime,
    campaign: bool,
    freeze: bool,
) -> ReleaseDecision | None:
    """Judge one rollout's interval, if it closed, and act on the decision; return it.

    Holds the flag's row lock throughout, so a person's action and the gate's never
    interleave. Returns None when there is nothing to record.
    """
    criteria = criteria_in_force(spec, campaign=campaign)
    canary = totals.get((spec.name, metrics.CANARY), CohortTotals())
    control = totals.get((spec.name, metrics.CONTROL), CohortTotals())
    with transaction.atomic():
        flag = _flag_locked(spec)
        if flag.status not in (ReleaseStatus.RUNNING, ReleaseStatus.HELD):
            return None
        sample = _interval_sample(flag, canary, control, now=now)
        if sample is None:
            _interval_open(flag, canary, control, now=now)
            flag.save()
            return None
        judgement = interval_judge(sample, criteria)
        if judgement.verdict is Verdict.COLLECTING:
            return None
        held = flag.status == ReleaseStatus.HELD
        decision = step_decide(
            _progress(flag),
            judgement,
            steps=spec.steps,
            criteria=criteria,
            now=now.timestamp(),
            frozen=freeze or held,  # a held step never advances on its own
        )
        _interval_close(flag, judgement, decision.progress, campaign=campaign, now=now)
        _interval_open(flag, canary, control, now=now)
        if not _gate_news(decision.action, held=held, frozen_noted=flag.frozen_noted):
            flag.save()
            return None
        return _gate_act(flag, spec, decision, criteria, canary, control, now=now)


def _interval_sample(
    flag: ReleaseFlag, canary: CohortTotals, control: CohortTotals, *, now: datetime
) -> IntervalSample | None:
    """Return the traffic since the flag's interval opened; None when none is open yet."""
    started_at, baseline = flag.interval_started_at, flag.interval_baseline
    if started_at is None or not baseline:
        return None
    return IntervalSample(
        canary=canary.minus(CohortTotals.from_json(baseline.get(metrics.CANARY))),
        control=control.minus(CohortTotals.from_json(baseline.get(metrics.CONTROL))),
        seconds=(now - started_at).total_seconds(),
    )


def _interval_close(
    flag: ReleaseFlag,
    judgement: IntervalJudgement,
    progress: StepProgress,
    *,
    campaign: bool,
    now: datetime,
) -> None:
    """Keep the step's progress after a closed interval, and the interval among the recent."""
    flag.step_samples = progress.step_samples
    flag.consecutive_passes = progress.consecutive_passes
    flag.consecutive_inconclusive = progress.consecutive_inconclusive
    flag.failures = progress.failures
    flag.recent_intervals = [
        *flag.recent_intervals,
        {
            "at": now.isoformat(timespec="seconds"),
            "step_index": flag.step_index,
            "exposure_bp": flag.exposure_bp,
            "campaign": campaign,
            **judgement.snapshot(),
        },
    ][-RECENT_INTERVALS:]


def _gate_news(action: Action, *, held: bool, frozen_noted: bool) -> bool:
    """Whether the gate's action changes what a person sees, so it is worth a decision.

    A held flag is already waiting for a person, so holding it again or finding it
    frozen says nothing new; nor does a freeze already noted for this step.
    """
    if action is Action.NONE or (held and action in (Action.HOLD, Action.FROZEN)):
        return False
    return not (action is Action.FROZEN and frozen_noted)


def _gate_act(
    flag: ReleaseFlag,
    spec: FlagSpec,
    decision: StepDecision,
    criteria: Criteria,
    canary: CohortTotals,
    control: CohortTotals,
    *,
    now: datetime,
) -> ReleaseDecision:
    """Move the flag as the gate decided and record the decision with its evidence.

    The evidence is what the gate saw before moving; an advance also opens the next
    step's first interval.
    """
    before = (flag.status, flag.exposure_bp)
    evidence = {
        **_evidence(flag, spec, criteria, now),
        "exit_criteria": decision.entry_criteria,
    }
    action = decision.action
    if action is Action.STOP:
        flag.status, flag.exposure_bp = ReleaseStatus.STOPPED, 0
    elif action is Action.HOLD:
        flag.status = ReleaseStatus.HELD
    elif action is Action.ADVANCE:
        _to_step(flag, spec, decision.progress.step_index, now=now)
        _interval_open(flag, canary, control, now=now)
    elif action is Action.COMPLETE:
        flag.status = ReleaseStatus.COMPLETE
    elif action is Action.FROZEN:
        flag.frozen_noted = True
    return _record(
        flag,
        action=str(action),
        actor=GATE_ACTOR,
        automatic=True,
        before=before,
        reason=decision.reason,
        criteria=criteria,
        metrics_snapshot=evidence,
        now=now,
    )


def _interval_open(
    flag: ReleaseFlag, canary: CohortTotals, control: CohortTotals, *, now: datetime
) -> None:
    flag.interval_started_at = now
    flag.interval_baseline = {metrics.CANARY: canary.to_json(), metrics.CONTROL: control.to_json()}


def deploy_step_record(
    *, deploy: str, step: str, ok: bool, started_at: datetime, finished_at: datetime, detail: str
) -> None:
    """Record one step of a deploy (its marker on /ops/). One INSERT, in autocommit."""
    DeployStep.objects.create(
        deploy=deploy[:32],
        step=step[:20],
        ok=ok,
        started_at=started_at,
        finished_at=finished_at,
        detail=detail[:1000],
    )
