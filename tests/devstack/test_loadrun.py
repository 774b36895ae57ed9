"""The runner's summary of a run's event log: per journey and total, and its verdict."""

import pytest

from devstack.loadrun import summarize, summary_table
from loadtests.outcomes import ERROR, OK, SHED
from loadtests.results import Event, RunResults
from loadtests.scenarios import SCENARIOS, scenario_get
from loadtests.shapes import plan_for

T0 = 1_000.0


def _run(*events: tuple[str, float, str], duration_s: float = 10.0) -> RunResults:
    """A run of `duration_s` whose events are (request name, ms, outcome), in order."""
    rows = [
        Event(T0 + index * 0.01, name.split("]")[0].lstrip("["), name, ms, outcome)
        for index, (name, ms, outcome) in enumerate(events)
    ]
    return RunResults("demo", T0, duration_s, rows, phases=[], users=[])


def test_summary_gives_each_journey_its_figures_and_merges_them_in_total():
    # given browse and buy requests over a 10 s run, one browse request failed
    run = _run(
        *[("[browse] /", 10.0, OK)] * 50,
        *[("[browse] /p/[slug]/", 20.0, OK)] * 39,
        ("[browse] /p/[slug]/", 20.0, ERROR),
        *[("[browse] /p/[slug]/", 200.0, OK)] * 10,
        *[("[buy] /api/v1/orders/", 50.0, OK)] * 20,
    )

    # when summarized
    summary = summarize(run)

    # then each journey has its own figures, and the total merges them all
    browse, buy = summary.journeys
    assert (browse.name, browse.requests, browse.failures) == ("browse", 100, 1)
    assert (browse.p50_ms, browse.p95_ms) == (10.0, 200.0)  # nearest rank: the 50th, 95th
    assert (buy.name, buy.requests, buy.p99_ms) == ("buy", 20, 50.0)
    assert summary.total.requests == 120
    assert summary.total.rps == pytest.approx(12.0)
    assert summary.duration_s == 10.0
    assert summary.error_rate == pytest.approx(1 / 120)
    assert "browse" in summary_table(summary)


def test_shed_requests_are_left_out_of_the_summary():
    run = _run(
        *[("[bot] /api/v1/carts/", 1.0, SHED)] * 50, *[("[bot] /api/v1/carts/", 80.0, OK)] * 10
    )

    summary = summarize(run)

    assert summary.total.requests == 10
    assert summary.total.p50_ms == 80.0


def test_verdict_counts_user_code_exceptions_as_errors():
    run = _run(*[("[browse] /", 10.0, OK)] * 99)

    assert summarize(run).passed(error_budget=0.01)
    assert not summarize(run, exceptions=2).passed(error_budget=0.01)


def test_a_run_without_requests_fails():
    assert not summarize(_run()).passed(error_budget=0.01)


def test_scenarios_are_bounded_in_users_time_and_requests():
    for scenario in SCENARIOS.values():
        assert 0 < scenario.users <= 100
        assert 0 < scenario.run_time_s <= 3600
        assert 0 < scenario.max_requests <= 1_000_000
        # every scenario's shape fits its duration
        assert plan_for(scenario.shape, users=scenario.users, duration_s=scenario.run_time_s)
    ci = [scenario for scenario in SCENARIOS.values() if scenario.ci]
    assert [scenario.name for scenario in ci] == ["smoke"]
    assert all(scenario.run_time_s <= 60 for scenario in ci)
    with pytest.raises(KeyError, match="known scenarios"):
        scenario_get("nope")


def test_locust_runs_alone_or_as_a_master_with_its_workers(tmp_path):
    from devstack.loadrun import locust_processes
    from loadtests.scenarios import scenario_get

    smoke = scenario_get("smoke")
    [alone] = locust_processes(scenario=smoke, host="http://127.0.0.1:1", report_dir=tmp_path)
    assert "--master" not in alone.argv
    assert "--worker" not in alone.argv

    master, *workers = locust_processes(
        scenario=smoke.scaled(workers=3),
        host="http://127.0.0.1:1",
        report_dir=tmp_path,
        master_port=5599,
    )
    assert master.argv[master.argv.index("--master-bind-port") + 1] == "5599"
    assert master.argv[master.argv.index("--expect-workers") + 1] == "3"
    assert [worker.name for worker in workers] == [f"locust-worker-{n}" for n in (1, 2, 3)]
    for worker in workers:
        assert worker.argv[worker.argv.index("--master-port") + 1] == "5599"
        assert "--worker" in worker.argv
