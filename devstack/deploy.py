"""Deploy a release to a running stack, in the order a zero-downtime deploy takes.

1. expand: apply the pending migrations, which the old code must survive (the linter in
   `make lint` refuses one that locks a table or breaks the running code, unless it is
   marked). A migration that contracts (drops what the old code reads) declares
   `contract_after = ("<app>", "<expand migration>")` and is refused while that
   migration is still pending: the contract step ships in a later release than its
   expand, once no running code reads the old shape.
2. caches: publish the new code's cache shapes (`toolkit.cache.registry.shapes_publish`);
   the namespaces whose shape changed are named, and their entries become clean misses
   for the new code, recomputed under single flight as they are asked for.
3. web: the gunicorn workers replaced one by one: a new one (the new code) boots
   before an old one stops, finishing its request (`Stack.web_reload`: not `HUP`).
4. worker: a new Celery worker starts, then the old one shuts down warm (it finishes
   and acknowledges its tasks; the ones it had reserved go to the new one).
5. beat: restarted (one at a time: only one scheduler may run).

Steps 1 and 2 run here, with the new code, which is then compiled to bytecode (the new
processes load it rather than each compiling the source); 3 to 5 are asked of the
stack's supervisor, which owns the processes (the one named in
`$PEAKSTORE_VAR_DIR/stack.json`): this command writes a request beside it and sends
`DEPLOY_SIGNAL`, the supervisor's deploy thread runs them and writes back what happened.
`make deploy` (and the load test's deploy) runs it at a low CPU priority, beside the
shoppers the stack serves (`toolkit.priority`). Every step is a marker: printed, kept
in `releases.DeployStep` for /ops/, and appended to `$PEAKSTORE_VAR_DIR/deploys.jsonl`,
from which a load run copies the markers of its window into its report.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from devstack.prepare import bytecode_compile
from releases.interface import deploy_step_record
from storefront.settings.environment import running_stack
from toolkit.cache import registry

if TYPE_CHECKING:
    from devstack.processes import Stack

DEPLOY_SIGNAL = signal.SIGUSR1
DEPLOY_FOLDER = "deploy"
JOURNAL = "deploys.jsonl"
# The steps the supervisor runs, in order; each only if the stack runs that process.
PROCESS_STEPS = ("web", "worker", "beat")


class DeployRefused(RuntimeError):
    """The deploy cannot go on: no stack, a contract step too early, a step that failed."""


@dataclass(frozen=True)
class DeployMarker:
    """One step of a deploy: when it ran, whether it worked, what it did."""

    deploy: str
    step: str
    ok: bool
    started_at: float  # Unix time
    finished_at: float
    detail: str

    def line(self) -> str:
        state = "ok" if self.ok else "FAILED"
        seconds = self.finished_at - self.started_at
        return f"{self.step:<7} {state:<6} {seconds:6.1f}s  {self.detail}"


def _timed(deploy: str, step: str, action: Callable[[], str]) -> DeployMarker:
    started = time.time()
    try:
        detail, ok = action(), True
    except Exception as error:  # the marker says what failed; the caller stops there
        detail, ok = f"{type(error).__name__}: {error}", False
    return DeployMarker(deploy, step, ok, started, time.time(), detail)


# The supervisor's side ------------------------------------------------------------------


def deploy_request_serve(stack: Stack) -> None:
    """Run the process steps a deploy asked for (in the supervisor's deploy thread)."""
    folder = stack.config.var_dir / DEPLOY_FOLDER
    try:
        request = json.loads((folder / "request.json").read_text())
        deploy = str(request["deploy"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # not a request this supervisor can read: the command times out and says so
    markers: list[DeployMarker] = []
    for step in PROCESS_STEPS:
        if step not in request.get("steps", PROCESS_STEPS) or step not in stack.pids:
            continue
        marker = _timed(deploy, step, partial(_process_step, stack, step))
        markers.append(marker)
        if not marker.ok:
            break
    _write_atomic(folder / f"{deploy}.json", json.dumps([asdict(m) for m in markers]))


def _process_step(stack: Stack, step: str) -> str:
    if step == "web":
        return stack.web_reload()
    # A worker overlaps its successor (no pause in consuming); only one beat may run.
    return stack.process_replace(step, overlap=step == "worker")


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)


# The deploy command's side -----------------------------------------------------------------


def migrations_pending() -> list[Any]:
    """The migrations `migrate` would apply now, in order."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [migration for migration, backwards in plan if not backwards]


def contract_steps_check(pending: Iterable[Any]) -> None:
    """Refuse a contract migration shipped in the same release as its expand migration."""
    pending = list(pending)
    names = {(migration.app_label, migration.name) for migration in pending}
    for migration in pending:
        after = getattr(migration, "contract_after", None)
        if after is not None and tuple(after) in names:
            raise DeployRefused(
                f"{migration.app_label}.{migration.name} contracts what "
                f"{after[0]}.{after[1]} expands, which is still pending: deploy the "
                "expand first, and the contract in a later release, once no running code "
                "reads the old shape"
            )


def _expand() -> str:
    pending = migrations_pending()
    contract_steps_check(pending)
    if not pending:
        return "no migration to apply"
    call_command("migrate", interactive=False, verbosity=0)
    return "applied " + ", ".join(f"{m.app_label}.{m.name}" for m in pending)


def _caches(retire: Sequence[str] = ()) -> str:
    changed = registry.shapes_publish()
    for namespace in retire:
        registry.retire(namespace)
    retired = f"; retired by hand: {', '.join(retire)}" if retire else ""
    if not changed:
        return f"no cached shape changed: every namespace keeps its entries{retired}"
    return "shape changed, entries retire as read: " + ", ".join(changed) + retired


def deploy_run(
    *,
    var_dir: Path,
    steps: Sequence[str] = ("expand", "caches", *PROCESS_STEPS),
    timeout: float = 300.0,
    retire: Sequence[str] = (),
    report: Callable[[DeployMarker], object] = print,
) -> list[DeployMarker]:
    """Deploy to the stack running on `var_dir`; return its markers (raise if one failed)."""
    stack = running_stack(var_dir)
    if stack is None:
        raise DeployRefused(
            f"no stack runs on {var_dir}: start one (make run), or set PEAKSTORE_VAR_DIR to "
            "the var dir of the one to deploy to"
        )
    deploy = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    markers: list[DeployMarker] = []

    def done(marker: DeployMarker) -> None:
        markers.append(marker)
        _record(marker, var_dir)
        report(marker)
        if not marker.ok:
            raise DeployRefused(f"the {marker.step} step failed: {marker.detail}")

    for step, action in (("expand", _expand), ("caches", partial(_caches, retire))):
        if step in steps:
            done(_timed(deploy, step, action))
    asked = [step for step in PROCESS_STEPS if step in steps]
    if asked:
        bytecode_compile()
        for marker in _supervisor_ask(var_dir, int(stack["pid"]), deploy, asked, timeout):
            done(marker)
    return markers


def _supervisor_ask(
    var_dir: Path, supervisor: int, deploy: str, steps: list[str], timeout: float
) -> list[DeployMarker]:
    folder = var_dir / DEPLOY_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    answer = folder / f"{deploy}.json"
    _write_atomic(folder / "request.json", json.dumps({"deploy": deploy, "steps": steps}))
    os.kill(supervisor, DEPLOY_SIGNAL)
    deadline = time.monotonic() + timeout
    while not answer.exists():
        if time.monotonic() > deadline:
            raise DeployRefused(f"the stack's supervisor (pid {supervisor}) did not answer")
        time.sleep(0.2)
    found = [DeployMarker(**fields) for fields in json.loads(answer.read_text())]
    answer.unlink(missing_ok=True)
    return found


def _record(marker: DeployMarker, var_dir: Path) -> None:
    """Keep the marker for /ops/ (the database) and for load-test reports (the journal)."""
    with (var_dir / JOURNAL).open("a") as journal:
        journal.write(json.dumps(asdict(marker)) + "\n")
    # Before the first deploy's expand created the table, the journal alone has it.
    with suppress(DatabaseError):
        deploy_step_record(
            deploy=marker.deploy,
            step=marker.step,
            ok=marker.ok,
            started_at=datetime.fromtimestamp(marker.started_at, UTC),
            finished_at=datetime.fromtimestamp(marker.finished_at, UTC),
            detail=marker.detail,
        )


def deploy_markers_between(var_dir: Path, start: float, end: float) -> list[dict[str, Any]]:
    """The journal's markers that started within [start, end] (for a load run's report)."""
    try:
        lines = (var_dir / JOURNAL).read_text().splitlines()
    except OSError:
        return []
    markers = [json.loads(line) for line in lines if line.strip()]
    return [marker for marker in markers if start <= marker["started_at"] <= end]
