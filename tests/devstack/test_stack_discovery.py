"""Commands find the simulator of the stack running on their var dir by themselves.

`make run PORT=9000` puts the simulator on 9101; `faults` and `audit_orders` run beside
it, with nothing exported, must talk to that one and not to the default 8101.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.processes import Stack, StackConfig, free_port, simulator_process
from storefront.settings.environment import (
    BASE_DIR,
    DEFAULT_UPSTREAM_URL,
    STACK_FILE,
    read_environment,
    running_stack,
)

# Variables that would pick the services profile or name an upstream: the commands under
# test must find everything from the var dir alone.
_CHOSEN_BY_HAND = (
    "INTEGRATIONS_UPSTREAM_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "DJANGO_SETTINGS_MODULE",  # the test settings: manage.py's own default instead
)


def _describe(var_dir: Path, *, pid: int, upstream_url: str) -> None:
    document = {"pid": pid, "base_url": "http://127.0.0.1:9000", "upstream_url": upstream_url}
    (var_dir / STACK_FILE).write_text(json.dumps(document))


def _upstream_url(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The upstream URL the settings of a process started on `var_dir` would hold."""
    monkeypatch.setenv("PEAKSTORE_VAR_DIR", str(var_dir))
    return read_environment().upstream_url


def _last_child_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_without_a_variable_the_upstream_is_the_running_stacks_simulator(tmp_path, monkeypatch):
    monkeypatch.delenv("INTEGRATIONS_UPSTREAM_URL", raising=False)
    _describe(tmp_path, pid=os.getpid(), upstream_url="http://127.0.0.1:9101")

    assert _upstream_url(tmp_path, monkeypatch) == "http://127.0.0.1:9101"


def test_the_variable_wins_over_the_running_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("INTEGRATIONS_UPSTREAM_URL", "http://simulator.internal:8101")
    _describe(tmp_path, pid=os.getpid(), upstream_url="http://127.0.0.1:9101")

    assert _upstream_url(tmp_path, monkeypatch) == "http://simulator.internal:8101"


@pytest.mark.parametrize("content", [None, "not json", '{"upstream_url": "http://x"}'])
def test_no_stack_or_an_unreadable_file_means_the_default(tmp_path, monkeypatch, content):
    monkeypatch.delenv("INTEGRATIONS_UPSTREAM_URL", raising=False)
    if content is not None:
        (tmp_path / STACK_FILE).write_text(content)

    assert running_stack(tmp_path) is None
    assert _upstream_url(tmp_path, monkeypatch) == DEFAULT_UPSTREAM_URL


def test_a_file_left_by_a_stack_that_died_is_ignored(tmp_path, monkeypatch):
    monkeypatch.delenv("INTEGRATIONS_UPSTREAM_URL", raising=False)
    _describe(tmp_path, pid=_last_child_pid(), upstream_url="http://127.0.0.1:9101")

    assert _upstream_url(tmp_path, monkeypatch) == DEFAULT_UPSTREAM_URL


def _manage(*args: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in _CHOSEN_BY_HAND}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**env, "PEAKSTORE_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_faults_and_audit_orders_reach_the_stack_on_their_var_dir_with_nothing_exported(
    tmp_path,
):
    # given an empty store and a stack whose simulator is not on the default port
    assert _manage("migrate", "-v0", var_dir=tmp_path).returncode == 0
    config = StackConfig(
        port=free_port(), simulator_port=free_port(), env={"PEAKSTORE_VAR_DIR": str(tmp_path)}
    )
    with Stack(config, processes=[simulator_process(config)]):
        assert running_stack(tmp_path)["upstream_url"] == config.upstream_url

        # when the commands run beside it with only its var dir
        preset = _manage("faults", "preset", "slow-erp", var_dir=tmp_path)
        audit = _manage("audit_orders", var_dir=tmp_path)

        # then they reached its simulator: the preset is applied, the captures were read
        assert preset.returncode == 0, preset.stderr
        assert json.loads(preset.stdout)["profiles"]["erp"]["latency_ms"] == [800, 3000]
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert "order audit clean" in audit.stdout

    # and the stack took its description away when it stopped
    assert not (tmp_path / STACK_FILE).exists()
