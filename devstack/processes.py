"""Start the store's processes, wait until they serve, and stop every one of them.

Each process runs in its own process group, so stopping one stops everything it forked
(gunicorn's workers, Celery's pool). A process is stopped with SIGTERM, then its whole
group with SIGKILL after a grace period. On Linux each group leader also gets SIGTERM
from the kernel if the supervisor dies, so even `kill -9` of it leaves no orphans.

Several stacks may run at once (tests beside a demo), so nothing here uses a fixed path or
port: ports come from the configuration, and gunicorn runs without its control socket.
While a stack with a simulator runs, it describes itself in `stack.json` under its own
PEAKSTORE_VAR_DIR, so commands run beside it find its simulator
(`storefront.settings.environment.running_stack`).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from http.client import HTTPResponse
from pathlib import Path
from typing import IO

from storefront.settings.environment import (
    BASE_DIR,
    ENV,
    STACK_FILE,
    TRACE_RING_FILE,
    running_stack,
)

_PR_SET_PDEATHSIG = 1
# The catalog snapshot the upstream simulator answers from, under PEAKSTORE_VAR_DIR.
SIMULATOR_CATALOG = "simulator-catalog.json"
# Loopback only: an HTTP proxy from the environment must never see these requests.
_LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def loopback_open(request: str | urllib.request.Request, *, timeout: float) -> HTTPResponse:
    """Open a URL (GET) or a request on loopback, ignoring any HTTP proxy the environment
    names.

    The one opener for the stack's own servers (readiness, /metrics scrapes, tests): a
    proxy would answer for them, or refuse to. Raises as `urllib.request.urlopen` does.
    """
    response: HTTPResponse = _LOOPBACK_OPENER.open(request, timeout=timeout)
    return response


class StackError(RuntimeError):
    """A process failed to start, to become ready, or died while the stack was running."""


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of the stack."""

    name: str
    argv: tuple[str, ...]
    # Where the process answers once it is ready; None when nothing needs to wait for it.
    ready_url: str | None = None
    # The port it listens on, checked to be free before anything starts.
    port: int | None = None


@dataclass(frozen=True)
class StackConfig:
    """How to run the stack. The environment (profile, PEAKSTORE_VAR_DIR) is inherited."""

    host: str = "127.0.0.1"
    port: int = 8000
    # None: port + 101, so 8000 gets 8101, the default INTEGRATIONS_UPSTREAM_URL.
    simulator_port: int | None = None
    web_workers: int = 2
    worker_concurrency: int = 2
    settings_module: str = "storefront.settings"
    env: Mapping[str, str] = field(default_factory=dict)
    # None: processes write to the supervisor's terminal; a folder: one log file each.
    log_dir: Path | None = None
    # Celery worker and beat's `--loglevel` (a person's terminal wants WARNING).
    task_log_level: str = "INFO"
    ready_timeout: float = 60.0
    stop_grace: float = 10.0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def var_dir(self) -> Path:
        """The PEAKSTORE_VAR_DIR the processes will see."""
        return Path(self.env.get("PEAKSTORE_VAR_DIR") or ENV.var_dir)

    @property
    def metrics_dir(self) -> Path:
        """Where every process writes its Prometheus samples (PROMETHEUS_MULTIPROC_DIR)."""
        return Path(self.env.get("PROMETHEUS_MULTIPROC_DIR") or self.var_dir / "metrics")

    @property
    def upstream_port(self) -> int:
        return self.simulator_port if self.simulator_port is not None else self.port + 101

    @property
    def upstream_url(self) -> str:
        """Where web and worker find the upstream simulator (INTEGRATIONS_UPSTREAM_URL)."""
        return f"http://{self.host}:{self.upstream_port}"


def web_process(config: StackConfig) -> ProcessSpec:
    """gunicorn with sync workers: Django views are CPU-bound and there is one per core."""
    return ProcessSpec(
        name="web",
        argv=(
            sys.executable,
            "-m",
            "gunicorn",
            "storefront.wsgi",
            "--bind",
            f"{config.host}:{config.port}",
            "--workers",
            str(config.web_workers),
            "--worker-class",
            "sync",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            # gunicorn 25+ opens a control socket at a fixed path; two stacks would clash.
            "--no-control-socket",
            # Worker hooks: a worker that exits stops counting in the live metrics, and
            # admission control reads each worker's listening sockets.
            "--config",
            "python:storefront.gunicorn_conf",
        ),
        ready_url=f"{config.base_url}/healthz",
        port=config.port,
    )


def worker_process(config: StackConfig) -> ProcessSpec:
    """A Celery worker on the profile's broker and on this stack's queue (from settings)."""
    return ProcessSpec(
        name="worker",
        argv=(
            sys.executable,
            "-m",
            "celery",
            "-A",
            "storefront",
            "worker",
            "--concurrency",
            str(config.worker_concurrency),
            "--loglevel",
            config.task_log_level,
            "--hostname",
            f"peakstore-{config.port}@%h",
            # Workers of other stacks may share the broker: no chatter between them.
            "--without-mingle",
            "--without-gossip",
        ),
    )


def beat_process(config: StackConfig) -> ProcessSpec:
    """Celery beat: the periodic tasks of CELERY_BEAT_SCHEDULE (outbox, reconciliation)."""
    return ProcessSpec(
        name="beat",
        argv=(
            sys.executable,
            "-m",
            "celery",
            "-A",
            "storefront",
            "beat",
            "--loglevel",
            config.task_log_level,
            # Its state file defaults to ./celerybeat-schedule, which stacks would share.
            "--schedule",
            str(config.var_dir / "celerybeat-schedule"),
        ),
    )


def simulator_process(config: StackConfig) -> ProcessSpec:
    """The upstream simulator: every dependency, with fault profiles.

    It answers from the catalog snapshot `store_prepare` wrote, when there is one.
    """
    catalog = config.var_dir / SIMULATOR_CATALOG
    return ProcessSpec(
        name="simulator",
        argv=(
            sys.executable,
            "-m",
            "integrations.simulator",
            "--host",
            config.host,
            "--port",
            str(config.upstream_port),
            *(("--catalog", str(catalog)) if catalog.exists() else ()),
            *_simulator_tracing(config),
        ),
        ready_url=f"{config.upstream_url}/health",
        port=config.upstream_port,
    )


def _simulator_tracing(config: StackConfig) -> tuple[str, ...]:
    """The simulator's tracing arguments: the stack's ring and share, or the OTLP endpoint.

    As the stack's own processes read them: its `env` first, then this environment's.
    """
    if config.env.get("PEAKSTORE_TRACING", "1" if ENV.tracing_enabled else "0") == "0":
        return ()
    endpoint = config.env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ENV.otlp_endpoint)
    share = config.env.get("PEAKSTORE_TRACING_SAMPLE") or str(ENV.tracing_sample_share)
    return (
        "--traces",
        str(config.var_dir / TRACE_RING_FILE),
        "--trace-share",
        share,
        *(("--otlp-endpoint", endpoint) if endpoint else ()),
    )


def for_a_person(config: StackConfig, environ: Mapping[str, str] = os.environ) -> StackConfig:
    """The stack as `make run` and `make demo` run it, for a person reading the terminal.

    One short line per request (the access log in the console format, coloured on a
    TTY) and Celery at WARNING, so periodic tasks stay quiet. Whatever the environment
    sets wins: `PEAKSTORE_LOG_FORMAT=json`, `PEAKSTORE_ACCESS_LOG=0`,
    `PEAKSTORE_TASK_LOG_LEVEL=INFO`.
    """
    readable = {
        "PEAKSTORE_LOG_FORMAT": environ.get("PEAKSTORE_LOG_FORMAT", "console"),
        "PEAKSTORE_ACCESS_LOG": environ.get("PEAKSTORE_ACCESS_LOG", "1"),
    }
    return replace(
        config,
        env={**readable, **config.env},
        task_log_level=environ.get("PEAKSTORE_TASK_LOG_LEVEL", "WARNING"),
    )


def stack_processes(config: StackConfig) -> tuple[ProcessSpec, ...]:
    """Return the processes of one stack, in start order: upstreams before their clients."""
    return (
        simulator_process(config),
        web_process(config),
        worker_process(config),
        beat_process(config),
    )


def _die_with_parent() -> None:
    """Run in the child before exec: own process group, SIGTERM when the supervisor dies."""
    os.setsid()
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def http_status(url: str, *, timeout: float = 2.0) -> int | None:
    """Return the HTTP status of a GET on loopback, or None if nothing answers."""
    try:
        with loopback_open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def http_ready(ready_url: str) -> bool:
    """Return whether a readiness URL answers 200.

    A 404 means the server runs but has no such endpoint yet (/healthz arrives with the
    API): then any non-5xx answer from /robots.txt or / counts as ready.
    """
    status = http_status(ready_url)
    if status != 404:
        return status == 200
    root = ready_url.rsplit("/", 1)[0]
    return any(
        (fallback := http_status(f"{root}{path}")) is not None and fallback < 500
        for path in ("/robots.txt", "/")
    )


def _ensure_port_free(host: str, port: int) -> None:
    """Refuse to start on a taken port: the readiness check would find the other server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves bind: connections of a previous run lingering in
        # TIME_WAIT do not make the port taken, only a listening socket does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise StackError(f"{host}:{port} is in use ({error.strerror})") from None


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free now (for tests and parallel stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


class LogTail:
    """The complete lines appended to a log file since the last look (as `tail -f`)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def new_lines(self) -> list[str]:
        if not self._path.exists():
            return []
        with self._path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        return [line.decode(errors="replace") for line in lines]


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while stopping: a second Ctrl-C must not cut the clean-up short.

    The grace period is bounded, so the clean-up finishes soon either way.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so one `except KeyboardInterrupt` / `finally` covers both."""

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Stack:
    """Supervise the store's processes: `with Stack(config): ...` starts, waits, stops."""

    def __init__(self, config: StackConfig, processes: Sequence[ProcessSpec] | None = None):
        self.config = config
        self.processes = tuple(processes if processes is not None else stack_processes(config))
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self._described: Path | None = None

    def __enter__(self) -> Stack:
        try:
            self.start()
            self.wait_ready()
            self._describe()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pids(self) -> dict[str, int]:
        """Process (and process group) id of each started process, by name."""
        return {name: process.pid for name, process in self._running.items()}

    def log_path(self, name: str) -> Path | None:
        return self.config.log_dir / f"{name}.log" if self.config.log_dir else None

    def start(self) -> None:
        for spec in self.processes:
            if spec.port is not None:
                _ensure_port_free(self.config.host, spec.port)
        # Samples of a previous run would be counted again (and pids get reused).
        shutil.rmtree(self.config.metrics_dir, ignore_errors=True)
        self.config.metrics_dir.mkdir(parents=True)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.config.settings_module,
            "PYTHONUNBUFFERED": "1",
            "INTEGRATIONS_UPSTREAM_URL": self.config.upstream_url,
            "PROMETHEUS_MULTIPROC_DIR": str(self.config.metrics_dir),
            # A local stack: its readiness checks and /metrics scrapers send no ops token,
            # so ops access stays open whatever the shell exported (storefront.ops.access).
            "PEAKSTORE_OPS_TOKEN": "",
            "PEAKSTORE_OPS_ALLOWED_NETWORKS": "",
            **self.config.env,
        }
        if self.config.log_dir:
            self.config.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.processes:
            output: IO[bytes] | None = None
            if log_path := self.log_path(spec.name):
                output = log_path.open("ab")
                self._logs.append(output)
            # preexec_fn is unsafe only when other threads may hold locks at fork time;
            # the supervisor starts its processes before it starts any thread.
            self._running[spec.name] = subprocess.Popen(
                spec.argv,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                preexec_fn=_die_with_parent,
            )

    def wait_ready(self) -> None:
        """Wait, bounded, until every process with a ready_url answers it.

        Before /healthz exists, any non-5xx answer from /robots.txt or / counts as ready.
        """
        deadline = time.monotonic() + self.config.ready_timeout
        for spec in self.processes:
            if spec.ready_url is None:
                continue
            while not http_ready(spec.ready_url):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{spec.name} did not answer {spec.ready_url} within "
                        f"{self.config.ready_timeout:.0f}s{self._log_hint(spec.name)}"
                    )
                time.sleep(0.2)

    def _describe(self) -> None:
        """Write `stack.json` into the var dir, if this stack runs a simulator and no other
        live stack on the var dir described itself first (that one keeps its file)."""
        if "simulator" not in self._running or running_stack(self.config.var_dir):
            return
        description = {
            "pid": os.getpid(),
            "base_url": self.config.base_url,
            "upstream_url": self.config.upstream_url,
        }
        self.config.var_dir.mkdir(parents=True, exist_ok=True)
        path = self.config.var_dir / STACK_FILE
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(description, indent=1) + "\n")
        partial.replace(path)  # atomic: a reader sees the old file or the whole new one
        self._described = path

    def _undescribe(self) -> None:
        if self._described is not None:
            # Still ours: a file of a stack that started after this one died is left.
            if (running_stack(self.config.var_dir) or {}).get("pid") == os.getpid():
                self._described.unlink(missing_ok=True)
            self._described = None

    def check_alive(self) -> None:
        """Raise StackError if a started process has exited."""
        for name, process in self._running.items():
            if (code := process.poll()) is not None:
                raise StackError(f"{name} exited with code {code}{self._log_hint(name)}")

    def wait_exit(self, name: str, *, timeout: float) -> int | None:
        """Wait up to `timeout` seconds for one process to exit; return its code or None."""
        try:
            return self._running[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait(
        self, poll_interval: float = 1.0, *, follow: Callable[[str], object] | None = None
    ) -> None:
        """Block while every process runs; raise StackError when one dies.

        `follow` is given the web server's new log lines as they are written: a stack that
        logs to files (`make demo`) still shows its requests to the person watching it.
        """
        web_log = self.log_path("web") if follow is not None else None
        tail = LogTail(web_log) if web_log is not None else None
        while True:
            self.check_alive()
            if tail is not None and follow is not None:
                for line in tail.new_lines():
                    follow(line)
            time.sleep(poll_interval if tail is None else min(poll_interval, 0.2))

    def stop(self) -> None:
        """Stop every started process, in reverse start order: clients before upstreams.

        Each leader gets SIGTERM, so gunicorn and Celery stop their own workers in order
        (finishing requests and tasks, which may still call the simulator); after the
        grace period its whole group gets SIGKILL, which also sweeps up anything it left.
        """
        with _signals_deferred():
            self._undescribe()
            started = list(reversed(self._running.values()))
            for process in started:
                if process.poll() is None:
                    process.terminate()
                    with suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=self.config.stop_grace)
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            settle = time.monotonic() + 5
            while any(_group_alive(p.pid) for p in started) and time.monotonic() < settle:
                time.sleep(0.05)
            self._running.clear()
            for log in self._logs:
                log.close()
            self._logs.clear()

    def _log_hint(self, name: str) -> str:
        log_path = self.log_path(name)
        if log_path is None or not log_path.exists():
            return ""
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        return f"; last lines of {log_path}:\n" + "\n".join(tail)
