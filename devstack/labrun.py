"""Run a failure-mode lab exercise: `python manage.py lab run MODE` (`make lab MODE=...`).

One stack, booted with the lab enabled, serves both runs: the mode's scenario
(`loadtests/lab.py`) with the mode on, then the same scenario with the same seed with it
off (off first when the damage stays in the data: `LabRun.damage_persists`). The switch
is flipped in the database between them, and every process of the stack follows it
within a second (`toolkit.lab`): no restart, as a workshop would do it. Each
run starts with every cache retired, so neither inherits the other's warm entries, and
each is judged by the scenario's gates and written as a normal load-test report
(`on/`, `off/`). Then `loadtests.compare` pairs them, and `lab.html` (with `lab.json`)
puts them side by side: each run's gate verdicts, both runs over time, and what happened
and why, with links to the naive and the good code.

The lab's verdict: every deciding gate fails with the mode on and passes with it off.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.core.management import call_command, get_commands
from django.core.management.base import CommandError, OutputWrapper
from django.utils import timezone

from devstack.audit import audits_run
from devstack.calibration import machine_describe
from devstack.loadrun import scenario_run
from devstack.prepare import store_prepare
from devstack.processes import Stack, StackConfig, StackError, sigterm_as_interrupt
from loadtests.compare import NotComparable, report_document_read, reports_compare
from loadtests.gates import gates_evaluate, gates_load
from loadtests.lab import GateVerdict, LabRun, deciding_verdicts, lab_run_get
from loadtests.report import comparison_html, report_write
from loadtests.results import results_read
from loadtests.scenarios import Scenario, scenario_get
from releases.interface import release_decisions
from storefront.settings.environment import BASE_DIR, ENV
from toolkit.cache import registry
from toolkit.lab import lab_enabled, reset, switch

ACTOR = "lab run"
# The superuser a run's own commands act as (a rollout's start and stop need authority).
INSTRUCTOR = "lab-instructor"
LABELS = ("mode off", "mode on")  # base, head: the comparison judges "on" against "off"


class LabRunError(Exception):
    """The lab run could not start or finish (the message says why)."""


@dataclass(frozen=True)
class LabOutcome:
    html: Path
    json: Path
    verdicts: tuple[GateVerdict, ...]
    duration_s: float

    @property
    def demonstrated(self) -> bool:
        return bool(self.verdicts) and all(v.demonstrated for v in self.verdicts)


def lab_run(
    mode: str,
    *,
    port: int,
    reports: Path,
    duration_s: int | None = None,
    stdout: OutputWrapper,
) -> LabOutcome:
    """Run `mode`'s scenario with the mode on, then off, on one stack; write the report."""
    write = stdout.write
    if not lab_enabled():
        raise LabRunError("the lab is disabled: run it as `make lab MODE=...` (PEAKSTORE_LAB=1)")
    started = time.monotonic()
    plan = lab_run_get(mode)
    if ENV.profile not in plan.profiles:
        raise LabRunError(
            f"{mode} cannot do its damage on the {ENV.profile} profile: {plan.profiles_why}"
        )
    scenario = scenario_get(plan.scenario).scaled(duration_s=duration_s)
    out = reports / mode
    out.mkdir(parents=True, exist_ok=True)
    store_prepare(products=scenario.seed_products, stdout=stdout)
    _instructor_ensure()
    for command in plan.prepare:
        _command(command, stdout=stdout, required=True)
    token, loadgen_key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    config = StackConfig(
        port=port,
        log_dir=out / "log",
        env={
            "PEAKSTORE_LAB": "1",
            "PEAKSTORE_BACKOFFICE_TOKEN": token,
            "PEAKSTORE_LOADGEN_KEY": loadgen_key,
        },
    )
    write(f"Lab {mode}: {scenario.name}, {scenario.run_time_s} s per run, seed {scenario.seed}")
    write(
        f"Starting the stack at {config.base_url} with the lab enabled (logs in {config.log_dir})"
    )
    try:
        with sigterm_as_interrupt(), Stack(config):
            reset(actor=ACTOR)
            for label in plan.order:
                _one_run(
                    plan,
                    scenario,
                    on=label == "on",
                    run_dir=out / label,
                    config=config,
                    keys=(token, loadgen_key),
                    stdout=stdout,
                )
    except StackError as error:
        raise LabRunError(str(error)) from None
    finally:
        reset(actor=ACTOR)
    return _report(plan, scenario, out=out, duration_s=time.monotonic() - started, write=write)


def _one_run(
    plan: LabRun,
    scenario: Scenario,
    *,
    on: bool,
    run_dir: Path,
    config: StackConfig,
    keys: tuple[str, str],
    stdout: OutputWrapper,
) -> None:
    """One run of the scenario with the mode on or off: load, audits, gates, report."""
    write = stdout.write
    state = "on" if on else "off"
    write(f"\n=== {plan.mode} {state} ===")
    registry.retire_all()  # each run starts cold: neither inherits the other's entries

    def mode_set() -> None:
        # After the catalog snapshot, which is then read the good way in both runs.
        switch(plan.mode, on=on, actor=f"{ACTOR} ({state})")
        for command in plan.before_each:
            _command(command, stdout=stdout, required=False)

    run_started = timezone.now()
    scenario_run(
        scenario=scenario,
        stack=config,
        report_dir=run_dir,
        backoffice_token=keys[0],
        loadgen_key=keys[1],
        write=write,
        before_load=mode_set,
    )
    (run_dir / "releases.json").write_text(
        json.dumps(release_decisions(since=run_started), default=str)
    )
    audits = audits_run(config=config, write=write, keep_in=run_dir)
    results = results_read(run_dir, scenario=scenario.name)
    rows = gates_evaluate(results, gates_load(scenario.name), audits=audits, baseline=None)
    meta: dict[str, Any] = {
        "shape": scenario.shape,
        "users": scenario.users,
        "duration_s": scenario.run_time_s,
        "seed": scenario.seed,
        "profile": ENV.profile,
        "lab_mode": plan.mode,
        "lab_state": state,
        "machine": machine_describe(profile=ENV.profile, calibration_rps=None).as_dict(),
    }
    report_write(results, rows, report_dir=run_dir, baseline=None, meta=meta)
    for row in rows:
        if row.gate in plan.deciding_gates:
            write(f"  deciding gate {row.gate}: {row.value} (limit {row.limit}) {row.status}")


def _instructor_ensure() -> None:
    """The lab's instructor: a superuser nobody can log in as (no usable password)."""
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username=INSTRUCTOR, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()


def _command(command: tuple[str, ...], *, stdout: OutputWrapper, required: bool) -> None:
    name, *args = command
    if name not in get_commands():
        message = f"`manage.py {name}` does not exist in this checkout"
        if required:
            raise LabRunError(f"{message}: this mode's run needs it")
        stdout.write(f"  skipped: {message}")
        return
    try:
        call_command(name, *args, stdout=stdout)
    except CommandError as error:
        if required:
            raise LabRunError(f"manage.py {' '.join(command)}: {error}") from None
        stdout.write(f"  manage.py {' '.join(command)}: {error}")


def _report(
    plan: LabRun, scenario: Scenario, *, out: Path, duration_s: float, write: Callable[[str], None]
) -> LabOutcome:
    """Compare the two runs and write lab.html and lab.json."""
    on_doc, off_doc = report_document_read(out / "on"), report_document_read(out / "off")
    try:
        comparison = reports_compare(
            off_doc, on_doc, base_name=str(out / "off"), head_name=str(out / "on")
        )
    except NotComparable as error:
        raise LabRunError(f"the two runs cannot be compared: {error}") from None
    verdicts = tuple(deciding_verdicts(plan, on_gates=on_doc["gates"], off_gates=off_doc["gates"]))
    outcome = LabOutcome(out / "lab.html", out / "lab.json", verdicts, round(duration_s, 1))
    page = comparison_html(
        comparison,
        off_doc,
        on_doc,
        labels=LABELS,
        title=f"Failure-mode lab: {plan.mode}",
        preface=_preface(plan, scenario, outcome, out=out),
        highlight=plan.signal,
    )
    outcome.html.write_text(page)
    outcome.json.write_text(
        json.dumps(
            {
                "mode": plan.mode,
                "scenario": scenario.name,
                "seed": scenario.seed,
                "duration_s": outcome.duration_s,
                "demonstrated": outcome.demonstrated,
                "deciding_gates": [{**asdict(v), "demonstrated": v.demonstrated} for v in verdicts],
                "naive": [str(path) for path in plan.naive],
                "good": [str(path) for path in plan.good],
                "runs": {"on": str(out / "on"), "off": str(out / "off")},
                "comparison": comparison.as_dict(),
            },
            indent=2,
        )
    )
    for verdict in verdicts:
        write(f"{verdict.gate}: mode on {verdict.on}, mode off {verdict.off}")
    write(f"Lab run took {outcome.duration_s:.0f} s")
    return outcome


def _preface(plan: LabRun, scenario: Scenario, outcome: LabOutcome, *, out: Path) -> str:
    """What happened and why, the deciding gates, and links to both code paths."""
    e = html.escape

    def links(paths: tuple) -> str:
        return ", ".join(
            f'<a href="{e(os.path.relpath(BASE_DIR / p.path, out))}"><code>{e(str(p))}</code></a>'
            for p in paths
        )

    rows = "".join(
        f"<tr{' class=fail' if not v.demonstrated else ''}><td>{e(v.gate)}</td>"
        f"<td>{e(v.on)}</td><td>{e(v.off)}</td>"
        f"<td>{'yes' if v.demonstrated else 'no'}</td></tr>"
        for v in outcome.verdicts
    )
    verdict = (
        "the deciding gates fail with the mode on and pass with it off"
        if outcome.demonstrated
        else "NOT demonstrated: a deciding gate did not fail on and pass off"
    )
    return (
        f"<p><strong>Scenario</strong> <code>{e(scenario.name)}</code> "
        f"({e(scenario.description)}), {scenario.run_time_s} s per run, seed {scenario.seed}; "
        f"the mode {plan.order[0]} first, then {plan.order[1]}, on one stack. "
        f"Lab run: {outcome.duration_s:.0f} s. "
        f"<strong>Verdict:</strong> {e(verdict)}.</p>"
        f"<h2>What happened and why</h2><p>{e(plan.why)}</p>"
        f"<p>Naive path: {links(plan.naive)}. Good path: {links(plan.good)}.</p>"
        "<h2>Deciding gates</h2><table><thead><tr><th>gate</th><th>mode on</th>"
        f"<th>mode off</th><th>demonstrated</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<p class=meta>Each run's own report: <a href=on/report.html>mode on</a>, "
        f"<a href=off/report.html>mode off</a>.</p>"
    )
