"""What the `rollout` command, `/ops/` and `/ops/releases.json` show: one shape for all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from releases.dto import DeployStepRecord
from releases.models import DeployStep, ReleaseDecision, ReleaseFlag, ReleaseWindow
from releases.services import release_actions_available
from releases.spec import FLAGS, FlagKind, flag_spec


def _decision_row(decision: ReleaseDecision) -> dict[str, Any]:
    return {
        "flag": decision.flag.name,
        "at": decision.at.isoformat(timespec="milliseconds"),
        "action": decision.action,
        "actor": decision.actor,
        "automatic": decision.automatic,
        "status": [decision.status_before, decision.status_after],
        "exposure_percent": [decision.exposure_before_bp / 100, decision.exposure_after_bp / 100],
        "step_index": decision.step_index,
        "reason": decision.reason,
        "criteria": decision.criteria,
        "metrics": decision.metrics,
    }


def releases_overview(*, decisions: int = 10, now: datetime | None = None) -> dict[str, Any]:
    """Every declared flag with its state, last interval and recent decisions. 3 queries."""
    now = now or timezone.now()
    rows = {flag.name: flag for flag in ReleaseFlag.objects.filter(name__in=FLAGS)}
    recent = list(
        ReleaseDecision.objects.select_related("flag").filter(flag__name__in=FLAGS)[:decisions]
    )
    windows = [
        {
            "name": w.name,
            "kind": w.kind,
            "starts_at": w.starts_at.isoformat(),
            "ends_at": w.ends_at.isoformat(),
        }
        for w in ReleaseWindow.objects.filter(ends_at__gt=now)
    ]
    flags = []
    for name in sorted(FLAGS):
        spec = flag_spec(name)
        row = rows.get(name)
        last = row.recent_intervals[-1] if row is not None and row.recent_intervals else None
        step_index = row.step_index if row is not None else -1
        flags.append(
            {
                "name": name,
                "kind": str(spec.kind),
                "owner": spec.owner,
                "description": spec.description,
                "routes": sorted(spec.routes),
                "status": row.status if row is not None else "default",
                "exposure_percent": (
                    row.exposure_bp if row is not None else spec.default_exposure_bp
                )
                / 100,
                "step": (
                    f"{step_index + 1}/{len(spec.steps)}"
                    if spec.kind is FlagKind.ROLLOUT and step_index >= 0
                    else None
                ),
                "steps_percent": [step.percent for step in spec.steps],
                "failures": row.failures if row is not None else 0,
                "actions": release_actions_available(
                    spec=spec, status=row.status if row is not None else "default"
                ),
                "last_interval": last,
            }
        )
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "flags": flags,
        "windows": windows,
        "decisions": [_decision_row(decision) for decision in recent],
    }


def release_decisions(*, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every decision (oldest first), optionally since a time: a load run's timeline."""
    query = ReleaseDecision.objects.select_related("flag").order_by("at", "id")
    if since is not None:
        query = query.filter(at__gte=since)
    return [_decision_row(decision) for decision in query]


def deploy_steps_recent(*, limit: int = 12) -> tuple[DeployStepRecord, ...]:
    """The latest deploy steps, newest first. 1 query."""
    return tuple(
        DeployStepRecord(
            deploy=row.deploy,
            step=row.step,
            ok=row.ok,
            started_at=row.started_at,
            finished_at=row.finished_at,
            detail=row.detail,
        )
        for row in DeployStep.objects.all()[:limit]
    )
