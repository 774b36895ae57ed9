"""A deploy a stack takes while serving: gunicorn reloaded under load with no error, the
Celery worker replaced with no task lost or run twice, each step a marker."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from devstack.deploy import JOURNAL, DeployRefused, contract_steps_check
from devstack.processes import Stack, free_port, http_ready
from devstack.tasks import PROBES
from storefront.settings.environment import BASE_DIR, STACK_FILE
from tests.devstack.conftest import http, manage
from tests.devstack.test_stack import _children, _run_stack, _wait_until

pytestmark = pytest.mark.stack
# Bounds of the request loops: each thread stops at its budget or the time limit.
LOOP_THREADS = 4
LOOP_REQUESTS_PER_THREAD = 1_500
LOOP_SECONDS = 120.0


class RequestLoop:
    """Threads reading pages and writing carts until stopped; every answer ≥ 500 or
    connection failure is an error."""

    def __init__(self, base_url: str, slugs: list[str]) -> None:
        self.base_url, self.slugs = base_url, slugs
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.answered = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(LOOP_THREADS)]

    def __enter__(self) -> "RequestLoop":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, index: int) -> None:
        deadline = time.monotonic() + LOOP_SECONDS
        for n in range(LOOP_REQUESTS_PER_THREAD):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            if n % 4 == 0:
                method, path, payload = "POST", "/api/v1/carts/", {}
            else:
                method, path, payload = (
                    "GET",
                    f"/p/{self.slugs[(index + n) % len(self.slugs)]}/",
                    None,
                )
            try:
                status = http(method, f"{self.base_url}{path}", payload=payload).status
                failure = f"{method} {path} -> {status}" if status >= 500 else None
            except OSError as error:  # refused or reset: what a careless reload causes
                failure = f"{method} {path} -> {error!r}"
            with self._lock:
                self.answered += 1
                if failure:
                    self.errors.append(failure)

    def answered_now(self) -> int:
        with self._lock:
            return self.answered


@pytest.fixture(scope="module")
def slugs(store_catalog) -> list[str]:
    return [product["slug"] for product in store_catalog["products"]]


def test_a_rolling_reload_under_load_replaces_every_web_worker_without_an_error(stack, slugs):
    # given the web workers serving a bounded loop of reads and writes
    master = stack.pids["web"]
    before = set(_children(master))
    with RequestLoop(stack.config.base_url, slugs) as loop:
        assert _wait_until(lambda: loop.answered_now() > 20, timeout=30)
        during_from = loop.answered_now()

        # when the web workers are replaced one by one
        detail = stack.web_reload()
        during = loop.answered_now() - during_from
        time.sleep(1.0)  # the new workers serve a while too

    # then every request was answered below 500, and only new workers serve
    after = set(_children(master))
    assert loop.errors == []
    assert during > 0, "no request ran during the reload: the test proved nothing"
    assert len(after) == stack.config.web_workers, detail
    assert not after & before, detail


def _probes(stack_env: dict[str, str], token: str, count: int, every: float) -> subprocess.Popen:
    """Enqueue `count` probe tasks of 0.3 s, one every `every` seconds, from a process of
    the stack's (its broker and queue), in the background."""
    code = (
        "import time\n"
        "from devstack.tasks import deploy_probe\n"
        f"for i in range({count}):\n"
        f"    deploy_probe.delay('{token}-' + str(i), 0.3)\n"
        f"    time.sleep({every})"
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings", **stack_env},
    )


def _runs(stack_env: dict[str, str], token: str) -> Counter:
    folder = Path(stack_env["PEAKSTORE_VAR_DIR"]) / PROBES
    names = [path.name for path in folder.iterdir()] if folder.is_dir() else []
    return Counter(name.split(".")[0] for name in names if name.startswith(f"{token}-"))


def _pools(stack_env: dict[str, str], token: str) -> set[str]:
    """The pool processes that ran the token's probes (each probe file names its pid)."""
    folder = Path(stack_env["PEAKSTORE_VAR_DIR"]) / PROBES
    return {path.name.split(".")[1] for path in folder.glob(f"{token}-*")}


def test_the_deploy_command_reloads_the_stack_while_it_serves_and_loses_no_task(
    stack: Stack, stack_env, slugs
):
    # given tasks waiting and running on the Celery worker, and shoppers on the web workers
    # (a task every 0.25 s for 60 s: some are queued and running when the worker goes)
    token, count = uuid.uuid4().hex[:8], 240
    old_worker, old_web = stack.pids["worker"], set(_children(stack.pids["web"]))
    producer = _probes(stack_env, token, count, every=0.25)
    with RequestLoop(stack.config.base_url, slugs) as loop:
        assert _wait_until(lambda: loop.answered_now() > 20, timeout=30)

        # when `manage.py deploy` runs beside the stack (it finds it by its var dir)
        result = subprocess.run(
            [sys.executable, "manage.py", "deploy"],
            cwd=BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings", **stack_env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    # then every step ran, in order, and no shopper saw an error
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split()[0] for line in result.stdout.splitlines()[1:-1]]
    assert steps == ["expand", "caches", "web", "worker", "beat"], result.stdout
    assert loop.errors == []
    # new processes serve
    assert stack.pids["worker"] != old_worker
    assert not set(_children(stack.pids["web"])) & old_web
    # every task ran exactly once: none lost in the old worker's shutdown, none twice
    assert producer.wait(timeout=120) == 0
    assert _wait_until(lambda: len(_runs(stack_env, token)) == count, timeout=90)
    after = uuid.uuid4().hex[:8]
    assert _probes(stack_env, after, 1, every=0).wait(timeout=60) == 0  # the new worker
    assert _wait_until(lambda: len(_runs(stack_env, after)) == 1, timeout=60)
    assert set(_runs(stack_env, token).values()) == {1}, _runs(stack_env, token)
    # some ran in the old worker's pool and some in the new one's: the deploy cut through
    assert len(_pools(stack_env, token)) > stack.config.worker_concurrency, result.stdout
    # and each step is a marker, in the journal the load-test reports read
    journal = Path(stack_env["PEAKSTORE_VAR_DIR"]) / JOURNAL
    markers = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [m["step"] for m in markers[-5:]] == steps
    assert all(m["ok"] for m in markers[-5:])
    # and on /ops/'s data (the markers are in the database too)
    assert "beat" in manage(
        stack_env,
        "shell",
        "--no-imports",
        "-c",
        "from releases.interface import deploy_steps_recent; "
        "print([s.step for s in deploy_steps_recent()])",
    )


def test_a_deploy_without_a_running_stack_is_refused(tmp_path):
    from devstack.deploy import deploy_run

    with pytest.raises(DeployRefused, match="no stack runs on"):
        deploy_run(var_dir=tmp_path, report=lambda marker: None)


class _Migration:
    def __init__(self, app_label: str, name: str, contract_after: tuple | None = None):
        self.app_label, self.name = app_label, name
        if contract_after is not None:
            self.contract_after = contract_after


def test_a_contract_migration_is_refused_in_the_release_of_its_expand():
    expand = _Migration("catalog", "0005_badge_added")
    contract = _Migration(
        "catalog", "0006_label_dropped", contract_after=("catalog", "0005_badge_added")
    )

    with pytest.raises(DeployRefused, match="later release"):
        contract_steps_check([expand, contract])

    # a release later, the expand is applied: the contract may go
    contract_steps_check([contract])


def test_make_run_keeps_serving_through_make_deploy(stack_env, tmp_path):
    # given `manage.py run_stack` (make run) serving, its supervisor watching every process
    port, log = free_port(), tmp_path / "run_stack.log"
    env = {**stack_env, "PEAKSTORE_VAR_DIR": str(tmp_path / "var")}
    # A var dir of its own (the seeded store copied, not the module stack's description,
    # or the deploy would find that stack's supervisor)
    shutil.copytree(
        stack_env["PEAKSTORE_VAR_DIR"],
        env["PEAKSTORE_VAR_DIR"],
        ignore=shutil.ignore_patterns(STACK_FILE, "deploy*", "metrics", "log", "mail"),
    )
    command = _run_stack(env, port, log)
    try:
        assert _wait_until(lambda: http_ready(f"http://127.0.0.1:{port}/healthz"), timeout=120)

        # when `manage.py deploy` (make deploy) runs beside it
        deployed = subprocess.run(
            [sys.executable, "manage.py", "deploy"],
            cwd=BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings", **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

        # then every step worked, and the supervisor took the replaced processes' exits
        # (beat stops before its successor starts) as part of the deploy, not a failure
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        time.sleep(2)  # the supervisor polls every second
        assert command.poll() is None, log.read_text()
        assert http("GET", f"http://127.0.0.1:{port}/healthz").status == 200
    finally:
        command.terminate()
        command.wait(timeout=60)
