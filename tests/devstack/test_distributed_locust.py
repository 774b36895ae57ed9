"""`loadtest --workers N --web-stacks 2`: Locust distributed, against two web stacks.

One `--master` and two `--worker` processes (the commands a run across hosts uses,
docs/scale-out.md) drive a short smoke run against two web stacks the command boots on
the module's store, the users taking the stacks in turn. The workers run the users and
send their events to the master, so the recorder, the gates, the audits and the report
work on one event log as in a local run; both stacks serve, and the audits stay clean.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.processes import free_port
from storefront.settings.environment import BASE_DIR

pytestmark = pytest.mark.stack

WORKERS = 2


def test_a_smoke_run_with_a_master_and_two_workers_is_recorded_gated_and_reported(
    stack_env, tmp_path
):
    # When the smoke scenario runs distributed, shortened
    reports = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "loadtest",
            "--scenario",
            "smoke",
            "--duration",
            "20",
            "--workers",
            str(WORKERS),
            "--web-stacks",
            "2",
            "--port",
            str(free_port()),
            "--reports",
            str(reports),
        ],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "storefront.settings",
            **stack_env,
            "PEAKSTORE_ACCESS_LOG": "1",
        },
        capture_output=True,
        text=True,
        timeout=240,  # inside pytest's own 300 s for the test
        check=False,
    )
    run = reports / "smoke"
    assert (run / "report.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]

    # Then the master waited for its workers, and each worker ran users
    master_log = (run / "locust.log").read_text()
    assert f"{WORKERS} workers connected" in master_log
    assert f"to {WORKERS} ready workers" in master_log
    for number in range(1, WORKERS + 1):
        assert (run / f"locust-worker-{number}.log").exists()
    # And the master alone wrote the one event log, with the workers' requests in it
    with (run / "events.csv").open() as events:
        rows = list(csv.DictReader(events))
    assert len(rows) > 50
    assert {row["journey"] for row in rows} >= {"browse", "buy"}
    # And the gates and the audits judged it as they judge a local run
    report = json.loads((run / "report.json").read_text())
    assert report["meta"]["workers"] == WORKERS
    assert report["meta"]["web_stacks"] == 2
    # (the two stacks share this machine's two workers, as two one-core hosts would)
    assert report["meta"]["web_workers"] == 1
    # And both web stacks served the users (each logs its requests)
    logs = Path(stack_env["PEAKSTORE_VAR_DIR"]) / "log"
    [second] = logs.glob("web-*.log")
    for log in (logs / "web.log", second):
        assert log.read_text().count('"path": "/') > 20, log
    gates = {row["gate"]: row for row in report["gates"]}
    assert "checkout completion" in gates, sorted(gates)
    # (the latency gates depend on the machine's load; the audits never do)
    assert {gates["audit audit_orders"]["status"], gates["audit cache_audit"]["status"]} == {"pass"}
    assert done.returncode in (0, 1), done.stderr[-3000:]
