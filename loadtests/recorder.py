"""The run's event log: one row per request, one per second of user count, in one folder.

Locust's own stats are aggregates; the report needs time series per journey (p50, p95,
p99, errors, shed over time) and per phase (p95 at baseline versus at the spike), so
every request is also written as a row of `events.csv` (time, journey, request name,
milliseconds, outcome), and the user count and phase once a second to `users.csv`.

Under `--processes` or distributed mode (`--master` / `--worker`), workers batch their
rows once a second and send them to the master over Locust's own messages; only the
master (or a lone local runner) writes files. So a run across many machines leaves one
event log on the master's host, and the gates read it exactly as they read a local run.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests.names import journey_of
from loadtests.outcomes import outcome_of

RESULTS_ENV = "PEAKSTORE_LOAD_RESULTS_DIR"
EVENTS_FILE = "events.csv"
USERS_FILE = "users.csv"
# request_id: the store's X-Request-ID, which finds a kept request's trace
# (/ops/traces/?request_id=...): the report links the slowest requests so.
EVENT_COLUMNS = ("t", "journey", "name", "ms", "outcome", "request_id")
USER_COLUMNS = ("t", "users", "phase")
_MESSAGE = "peakstore_events"


class _CsvLog:
    """An append-only CSV file, flushed by the caller once a second."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(columns)

    def write(self, rows: list[list[Any]]) -> None:
        # Late rows (a worker's last batch, a sampler tick) after quitting are dropped.
        if not self._file.closed:
            self._writer.writerows(rows)

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class EventRecorder:
    """Install on Locust's init event; see the module docstring for who writes what."""

    def __init__(self, environment: Environment, results_dir: Path | None) -> None:
        self.environment = environment
        self.results_dir = results_dir
        self.pending: list[list[Any]] = []
        self.phase = ""
        self.events: _CsvLog | None = None
        self.users: _CsvLog | None = None
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            environment.events.request.add_listener(self._on_request)
            gevent.spawn(self._send_batches)
            environment.events.test_stop.add_listener(lambda **_: self._send())
            environment.events.quitting.add_listener(lambda **_: self._send())
            return
        if results_dir is None:
            raise ValueError("the master or a local runner needs a results folder")
        self.events = _CsvLog(results_dir / EVENTS_FILE, EVENT_COLUMNS)
        self.users = _CsvLog(results_dir / USERS_FILE, USER_COLUMNS)
        if isinstance(runner, MasterRunner):
            runner.register_message(_MESSAGE, self._on_batch)
        else:
            environment.events.request.add_listener(self._on_request)
        gevent.spawn(self._sample_users)
        environment.events.quitting.add_listener(self._close)

    def _on_request(
        self,
        *,
        name: str,
        response_time: float,
        exception: Any,
        context: Any,
        response: Any = None,
        **_: Any,
    ) -> None:
        outcome = outcome_of({"exception": exception, "context": context})
        headers = getattr(response, "headers", None) or {}
        self.pending.append(
            [
                round(time.time(), 3),
                journey_of(name),
                name,
                round(response_time, 1),
                outcome,
                headers.get("X-Request-ID", ""),
            ]
        )

    def _send(self) -> None:
        """Worker: ship the pending rows to the master."""
        if self.pending and self.environment.runner is not None:
            rows, self.pending = self.pending, []
            self.environment.runner.send_message(_MESSAGE, rows)

    def _send_batches(self) -> None:
        while True:
            gevent.sleep(1.0)
            self._send()

    def _on_batch(self, environment: Environment, msg: Any, **_: Any) -> None:
        """Master: rows from a worker (Locust calls handlers with environment and msg)."""
        if self.events is not None:
            self.events.write(msg.data)

    def _sample_users(self) -> None:
        while True:
            gevent.sleep(1.0)
            runner = self.environment.runner
            if runner is None or self.events is None or self.users is None:
                continue
            if self.pending:
                rows, self.pending = self.pending, []
                self.events.write(rows)
            self.users.write([[round(time.time(), 3), runner.user_count, self.phase]])
            self.events.flush()
            self.users.flush()

    def _close(self, **_: Any) -> None:
        if self.events is not None and self.pending:
            self.events.write(self.pending)
            self.pending = []
        for log in (self.events, self.users):
            if log is not None:
                log.flush()
                log.close()


def recorder_install(environment: Environment) -> EventRecorder | None:
    """Record the run where PEAKSTORE_LOAD_RESULTS_DIR says; workers always send theirs."""
    results_dir = os.environ.get(RESULTS_ENV)
    if environment.runner is None:
        return None
    if isinstance(environment.runner, WorkerRunner):
        return EventRecorder(environment, None)
    return EventRecorder(environment, Path(results_dir)) if results_dir else None
