"""The failure-mode lab's run table: every mode has a runnable scenario, deciding gates the
scenario's gates can produce, and code paths that exist; and its verdict logic."""

import pytest
from django.core.management import get_commands

from loadtests.gates import AuditResult, gates_evaluate, gates_load
from loadtests.lab import LAB_RUNS, GateVerdict, deciding_verdicts, lab_run_get
from loadtests.report import SERIES_UNITS
from loadtests.results import Event, RunResults
from loadtests.scenarios import scenario_get
from loadtests.shapes import plan_for
from storefront.settings.environment import BASE_DIR
from toolkit.lab import MODES


def test_every_lab_mode_has_a_run():
    assert set(LAB_RUNS) == set(MODES)


@pytest.mark.parametrize("mode", sorted(LAB_RUNS))
def test_each_run_is_short_seeded_and_its_signal_is_charted(mode):
    run = lab_run_get(mode)
    scenario = scenario_get(run.scenario)

    # both runs' load within 3 minutes together, leaving room for boot, audits, report
    assert scenario.run_time_s <= 100
    assert scenario.seed is not None
    assert plan_for(scenario.shape, users=scenario.users, duration_s=scenario.run_time_s)
    assert run.signal in SERIES_UNITS


@pytest.mark.parametrize("mode", sorted(LAB_RUNS))
def test_each_deciding_gate_is_configured_for_its_scenario(mode):
    """The scenario's gates, evaluated on a run with no traffic, name every deciding gate
    (as skipped rows), so a deciding gate cannot be a name no gate produces."""
    run = lab_run_get(mode)
    gates = gates_load(run.scenario)
    # Per-journey rows appear only for journeys that made requests.
    events = [
        Event(0.0, journey, f"[{journey}] /", 1.0, "ok") for journey in gates.get("p95_ms", {})
    ]
    audits = [AuditResult("audit_orders", None), AuditResult("cache_audit", None)]

    rows = gates_evaluate(
        RunResults(run.scenario, 0.0, 1.0, events, phases=[], users=[]),
        gates,
        audits=audits,
        baseline=None,
    )

    assert set(run.deciding_gates) <= {row.gate for row in rows}


@pytest.mark.parametrize("mode", sorted(LAB_RUNS))
def test_the_code_paths_of_every_mode_exist(mode):
    for path in (*lab_run_get(mode).naive, *lab_run_get(mode).good):
        source = (BASE_DIR / path.path).read_text()
        assert f"def {path.symbol.rpartition('.')[2]}" in source
    naive_files = {path.path for path in lab_run_get(mode).naive}
    assert any(f'mode_on("{mode}")' in (BASE_DIR / f).read_text() for f in naive_files)


def test_a_mode_is_demonstrated_only_when_its_gate_fails_on_and_passes_off():
    run = lab_run_get("n-plus-one")
    gate = run.deciding_gates[0]

    def verdict(on: str, off: str) -> GateVerdict:
        return deciding_verdicts(
            run, on_gates=[{"gate": gate, "status": on}], off_gates=[{"gate": gate, "status": off}]
        )[0]

    assert verdict("fail", "pass").demonstrated
    assert not verdict("fail", "fail").demonstrated
    assert not verdict("pass", "pass").demonstrated
    assert not verdict("skipped", "pass").demonstrated
    assert deciding_verdicts(run, on_gates=[], off_gates=[])[0].on == "missing"


@pytest.mark.parametrize("mode", sorted(mode for mode, run in LAB_RUNS.items() if run.prepare))
def test_each_prepare_step_is_a_management_command(mode):
    for command, *_ in lab_run_get(mode).prepare:
        assert command in get_commands()


def test_a_mode_whose_damage_stays_in_the_data_runs_off_first():
    # An oversold stock row is still wrong after the switch goes off: the good path's
    # audit would find the naive run's damage.
    assert lab_run_get("oversell").order == ("off", "on")
    assert lab_run_get("n-plus-one").order == ("on", "off")
