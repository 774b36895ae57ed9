"""The pipeline files in docs/ci/ are valid for their CI system and run what exists here.

Each is checked against its CI system's own schema (the copies check-jsonschema ships,
so the test needs no network), and every `make` target, `manage.py` command, scenario
and report file it names must be one this repository has or a run writes.
"""

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from devstack.management.commands.loadtest import MACHINE_FILE
from loadtests.gates import gates_evaluate
from loadtests.report import report_write
from loadtests.scenarios import SCENARIOS
from tests.loadtests.test_gates import CLEAN, GATES, _run
from tests.test_architecture import ROOT

PIPELINES = {
    "github-actions.yml": "vendor.github-workflows",
    "gitlab-ci.yml": "vendor.gitlab-ci",
}
GITLAB_KEYWORDS = {"workflow", "stages", "default", "variables", "include"}


def _pipeline(name: str) -> dict:
    return yaml.safe_load((ROOT / "docs" / "ci" / name).read_text())


def _commands(name: str) -> Iterator[str]:
    """Every shell command the pipeline runs."""
    document = _pipeline(name)
    if name == "github-actions.yml":
        for job in document["jobs"].values():
            yield from (step["run"] for step in job["steps"] if "run" in step)
        return
    for key, job in document.items():
        if key in GITLAB_KEYWORDS or not isinstance(job, dict):
            continue
        for section in ("before_script", "script", "after_script"):
            yield from job.get(section, [])


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))


def _manage_commands() -> set[str]:
    return {path.stem for path in ROOT.glob("*/management/commands/[!_]*.py")}


@pytest.mark.parametrize(("name", "schema"), sorted(PIPELINES.items()))
def test_each_pipeline_is_valid_against_its_ci_systems_schema(name, schema):
    done = subprocess.run(
        [
            *(sys.executable, "-m", "check_jsonschema", "--no-cache"),
            *("--builtin-schema", schema, str(ROOT / "docs" / "ci" / name)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_each_pipeline_runs_only_targets_commands_and_scenarios_that_exist(name):
    commands = "\n".join(_commands(name))
    make_targets = re.findall(r"\bmake\s+([a-z][\w-]*)", commands)
    manage_commands = re.findall(r"manage\.py\s+(\w+)", commands)
    scenarios = re.findall(r"SCENARIO=([\w-]+)", commands)

    # the pipeline tests, load-tests and compares
    assert {"test", "loadtest"} <= set(make_targets)
    assert "loadtest compare" in commands
    # with nothing that does not exist here
    assert set(make_targets) <= _make_targets()
    assert set(manage_commands) <= _manage_commands()
    assert scenarios
    assert set(scenarios) <= set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_each_pipeline_keeps_only_files_a_load_run_writes(name, tmp_path):
    # given the files the runner and the report write into a scenario's folder
    rows = gates_evaluate(_run(), GATES, audits=CLEAN, baseline=None)
    written = {
        path.name
        for path in report_write(_run(), rows, report_dir=tmp_path, baseline=None, meta={}).values()
    }
    written.add(MACHINE_FILE)

    kept = set(re.findall(r"reports/smoke/([\w.]+)", (ROOT / "docs" / "ci" / name).read_text()))

    assert {"junit.xml", "report.html", "report.json", "summary.md"} <= kept
    assert kept <= written


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_each_pipeline_starts_the_services_profile(name):
    text = (ROOT / "docs" / "ci" / name).read_text()

    for image in ("postgres:", "redis:", "rabbitmq:"):
        assert f"image: {image}" in text or f"name: {image}" in text
    for variable in (
        "DATABASE_URL: postgres://",
        "REDIS_URL: redis://",
        "CELERY_BROKER_URL: amqp://",
    ):
        assert variable in text
