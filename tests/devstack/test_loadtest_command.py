"""`loadtest compare BASE HEAD` and the machine a run records (calibration boots gunicorn)."""

import json

import pytest
from django.core.management import CommandError, call_command

from devstack.calibration import calibration_measure, machine_describe
from devstack.management.commands.loadtest import Command
from devstack.processes import web_workers_sharing
from tests.loadtests.test_compare import _report, _synthetic_run


def _folder(tmp_path, name: str, **changes) -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps(_report(_synthetic_run(**changes))))
    return str(folder)


def test_compare_exits_non_zero_on_a_regression_and_writes_both_reports(tmp_path, capsys):
    base = _folder(tmp_path, "base", seed=11)
    head = _folder(tmp_path, "head", seed=12, cart_delay_ms=20)

    with pytest.raises(CommandError, match=r"regression against the base: .*buy"):
        call_command("loadtest", "compare", base, head, out=tmp_path / "out")

    assert "against the base: REGRESSION" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "compare.json").read_text())["regressed"] is True
    assert (tmp_path / "out" / "compare.md").read_text().startswith("## Load test `smoke`")
    page = (tmp_path / "out" / "compare.html").read_text()
    assert "REGRESSION" in page
    assert "<h2>Gate verdicts</h2>" in page
    assert page.count("<svg") >= 5  # both runs over time: latency, throughput, errors...


def test_compare_of_an_unchanged_store_passes(tmp_path, capsys):
    base = _folder(tmp_path, "base", seed=21)
    head = _folder(tmp_path, "head", seed=22)

    call_command("loadtest", "compare", base, f"{head}/report.json", out=tmp_path / "out")

    assert "no regression against the base" in capsys.readouterr().out


def test_compare_needs_two_reports(tmp_path):
    with pytest.raises(CommandError, match="usage: loadtest compare BASE HEAD"):
        call_command("loadtest", "compare", str(tmp_path))
    with pytest.raises(CommandError, match=r"no report\.json"):
        call_command("loadtest", "compare", str(tmp_path), str(tmp_path))


def test_the_run_options_still_parse_beside_compare():
    parser = Command().create_parser("manage.py", "loadtest")

    options = parser.parse_args(["--scenario", "smoke", "--record-baseline"])

    assert (options.compare, options.scenario, options.record_baseline) == ([], "smoke", True)


def test_the_machine_class_names_cores_memory_and_profile():
    machine = machine_describe(profile="services", calibration_rps=812.5)

    assert machine.cores >= 1
    assert machine.memory_gib >= 1
    assert machine.key == f"{machine.cores}-cores-{machine.memory_gib}-gib-services"


@pytest.mark.stack
def test_calibration_measures_bare_django_on_loopback_in_bounded_time(tmp_path):
    rps = calibration_measure(seconds=1.0, log_dir=tmp_path)

    assert rps > 0
    assert "Listening at: http://127.0.0.1:" in (tmp_path / "bare.log").read_text()


@pytest.mark.parametrize(("stacks", "each"), [(1, 2), (2, 1), (3, 1)])
def test_web_stacks_on_one_machine_share_its_workers(stacks, each):
    assert web_workers_sharing(stacks, machine_workers=2) == each


@pytest.mark.parametrize("option", ["--web-workers", "--web-stacks"])
def test_none_of_either_is_refused_before_anything_starts(tmp_path, option):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("loadtest", option, "0", reports=tmp_path)
