"""Start the store's processes, wait until they serve, and stop every one of them.

Each process runs in its own process group, so stopping one stops everything it forked
(gunicorn's workers, Celery's pool), and in the supervisor's session: with autogroup
scheduling (the default of most Linux distributions) each session shares the CPU as one
group whatever its processes' priorities, so a process in a session of its own, booting,
would take as much CPU as every web worker together. In one session the priorities
weigh: Celery's worker and beat boot at a low one (`toolkit.priority`), as web workers
do (`storefront/gunicorn_conf.py`). A process is stopped with SIGTERM, then its whole
group with SIGKILL after a grace period. On Linux each group leader also gets SIGTERM
from the kernel if the supervisor dies, so even `kill -9` of it leaves no orphans.

Several stacks may run at once (tests beside a demo), so nothing here uses a fixed path or
port: ports come from the configuration, and gunicorn runs without its control socket.
While a stack with a simulator runs, it describes itself in `stack.json` under its own
PEAKSTORE_VAR_DIR, so commands run beside it find its simulator
(`storefront.settings.environment.running_stack`) and `manage.py deploy` finds the
supervisor, which reloads its processes on request (`devstack/deploy.py`).
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import partial
from http.client import HTTPResponse
from pathlib import Path
from typing import IO, Any

from storefront.settings.environment import (
    BASE_DIR,
    ENV,
    STACK_FILE,
    TRACE_RING_FILE,
    running_stack,
)
from toolkit.priority import SERVE_NICENESS_ENV, boot_niceness

_PR_SET_PDEATHSIG = 1
# The folder each web worker marks itself booted in (storefront/gunicorn_conf.py).
WEB_READY_ENV = "PEAKSTORE_WEB_READY_DIR"
# The catalog snapshot the upstream simulator answers from, under PEAKSTORE_VAR_DIR.
SIMULATOR_CATALOG = "simulator-catalog.json"
# What the simulated systems of record recorded (payments, captures, ERP exports), kept
# beside the database they answer for, so a restarted stack audits cleanly.
SIMULATOR_STATE = "simulator-state.sqlite3"
# The prices and stock the simulated PIM and ERP start from, written when a store is seeded.
SIMULATOR_BOOKS = "simulator-books.json"
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
    # Started at a low CPU priority, told in SERVE_NICENESS_ENV the one to return to once
    # it is ready (Celery's worker and beat, in storefront/celery.py).
    boots_lowered: bool = False


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
        boots_lowered=True,
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
        boots_lowered=True,
    )


def simulator_process(config: StackConfig) -> ProcessSpec:
    """The upstream simulator: every dependency, with fault profiles.

    It answers from the catalog snapshot `store_prepare` wrote, when there is one, its
    PIM and ERP from the books written when the store was seeded, and it keeps its
    payments and exports in the var dir, so they outlive a restart.
    """
    catalog = config.var_dir / SIMULATOR_CATALOG
    books = config.var_dir / SIMULATOR_BOOKS
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
            *(("--books", str(books)) if books.exists() else ()),
            "--state",
            str(config.var_dir / SIMULATOR_STATE),
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


def web_workers_sharing(stacks: int, *, machine_workers: int = StackConfig.web_workers) -> int:
    """Sync workers for each of `stacks` web stacks that share one machine's cores.

    On hosts of their own each stack runs `machine_workers`, one per core. Side by side
    on one machine, as the load test's `--web-stacks` runs them, they share its cores:
    two stacks of two workers would put four CPU-bound workers on two cores, which adds
    context switches, not capacity. So each gets its share, at least one.
    """
    return max(1, machine_workers // stacks)


def web_stack_config(config: StackConfig, *, upstream_url: str) -> StackConfig:
    """Another web stack beside a running one: its own gunicorn, port and metrics folder.

    It shares what the environment names with the first (database, cache, broker) and
    that stack's upstream simulator; Celery worker and beat stay with the first stack
    (beat must run once; more workers are `celery worker` on any host). Its samples go
    to a folder of its own, as on a host of its own: starting a stack empties its
    metrics folder, and the first stack's processes are still writing theirs.
    """
    upstream_port = urllib.parse.urlsplit(upstream_url).port
    metrics_dir = config.var_dir / f"metrics-web-{config.port}"
    return replace(
        config,
        simulator_port=upstream_port,
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **config.env},
    )


def _die_with_parent(niceness: int | None = None) -> None:
    """Run in the child before exec: own process group (in the supervisor's session), the
    niceness asked for, SIGTERM when the supervisor dies."""
    os.setpgid(0, 0)
    if niceness is not None:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
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


_PORTS_GIVEN: set[int] = set()


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux; 32768 by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free now (for tests and parallel stacks).

    The port comes from below the kernel's ephemeral range: a port the kernel picked
    (bind to 0) is one it may hand to an outgoing connection before our server binds it.
    """
    low, high = 20000, max(20001, _ephemeral_low() - 1)
    for _ in range(200):
        port = random.randint(low, high)
        if port in _PORTS_GIVEN:
            continue
        try:
            _ensure_port_free(host, port)
        except StackError:
            continue
        _PORTS_GIVEN.add(port)
        return port
    raise StackError(f"no free port on {host} between {low} and {high}")


def _children(pid: int) -> set[int]:
    """The ids of a process's live children, from /proc (Linux)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and fields[0] != "Z" and int(fields[1]) == pid:
            children.add(int(entry.name))
    return children


def _children_added(pid: int, before: set[int]) -> set[int]:
    return _children(pid) - before


def _children_count_is(pid: int, count: int) -> bool:
    return len(_children(pid)) == count


def _children_none_of(pid: int, old: set[int]) -> bool:
    return not _children(pid) & old


def _renamed(argv: tuple[str, ...], suffix: str) -> tuple[str, ...]:
    """A Celery worker's argv with `suffix` added to its node name (before the @)."""
    at = argv.index("--hostname") + 1
    name, _, host = argv[at].partition("@")
    return (*argv[:at], f"{name}{suffix}@{host}", *argv[at + 1 :])


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
    """Treat SIGTERM like Ctrl-C, so one `except KeyboardInterrupt` / `finally` covers both.

    SIGINT is set too: a process started in the background (`&` in a script, nohup)
    inherits it ignored, and Python then installs no Ctrl-C handler of its own.
    """

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, _interrupt) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Stack:
    """Supervise the store's processes: `with Stack(config): ...` starts, waits, stops."""

    def __init__(self, config: StackConfig, processes: Sequence[ProcessSpec] | None = None):
        self.config = config
        self.processes = tuple(processes if processes is not None else stack_processes(config))
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self._described: Path | None = None
        # Processes being replaced by a deploy: their exit is expected, not a failure.
        self._lock = threading.Lock()
        self._retiring: list[subprocess.Popen[bytes]] = []
        self._env: dict[str, str] = {}
        self._previous_usr1: Any = None
        self._deploy_wanted = threading.Event()
        self._generation = 0

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
        self._env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.config.settings_module,
            "PYTHONUNBUFFERED": "1",
            "INTEGRATIONS_UPSTREAM_URL": self.config.upstream_url,
            "PROMETHEUS_MULTIPROC_DIR": str(self.config.metrics_dir),
            # A local stack: its readiness checks and /metrics scrapers send no ops token,
            # so ops access stays open whatever the shell exported (storefront.ops.access).
            "PEAKSTORE_OPS_TOKEN": "",
            "PEAKSTORE_OPS_ALLOWED_NETWORKS": "",
            # Where each web worker marks itself booted (a deploy's rolling reload).
            WEB_READY_ENV: str(self.config.var_dir / "web-ready" / uuid.uuid4().hex[:8]),
            **self.config.env,
        }
        if self.config.log_dir:
            self.config.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.processes:
            self._running[spec.name] = self._spawn(spec)

    def _spawn(self, spec: ProcessSpec) -> subprocess.Popen[bytes]:
        output: IO[bytes] | None = None
        if log_path := self.log_path(spec.name):
            output = log_path.open("ab")
            self._logs.append(output)
        # preexec_fn is unsafe only when other threads may hold locks at fork time: the
        # supervisor starts its processes before any thread, and a deploy's replacements
        # from its one deploy thread, while the main thread only polls.
        env, niceness = self._env, None
        if spec.boots_lowered and (niceness := boot_niceness()) is not None:
            env = {**env, SERVE_NICENESS_ENV: str(os.getpriority(os.PRIO_PROCESS, 0))}
        return subprocess.Popen(
            spec.argv,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            preexec_fn=partial(_die_with_parent, niceness),
        )

    # Deploys ------------------------------------------------------------------------------

    def web_reload(self, *, timeout: float = 120.0) -> str:
        """Replace every gunicorn worker with one running the current code, one by one,
        never serving with fewer workers than before. Returns what happened, in words.

        Not gunicorn's `HUP`: it forks the new workers and stops the old ones at once, and
        a new worker (the app is not preloaded, so it imports the code afresh) takes
        seconds to boot, during which nobody accepts: the deploy-during-spike scenario
        measured 55 requests timing out at 10 s. Instead, `TTIN` adds a worker (new
        code), and once it has booted (its `post_worker_init` hook marks it ready in
        `web-ready/`), `TTOU` retires the oldest, which finishes its request first.
        """
        master = self._running["web"].pid
        old = _children(master)
        deadline = time.monotonic() + timeout
        for _ in old:
            before = _children(master)
            os.kill(master, signal.SIGTTIN)
            added = self._wait_for(partial(_children_added, master, before), deadline, "a worker")
            self._wait_for(partial(self._web_booted, added), deadline, "its boot")
            os.kill(master, signal.SIGTTOU)  # gunicorn stops its oldest worker, gracefully
            self._wait_for(partial(_children_count_is, master, len(before)), deadline, "retiring")
        self._wait_for(partial(_children_none_of, master, old), deadline, "the old workers")
        return f"{len(old)} workers replaced one by one by {len(_children(master))} new ones"

    def _web_booted(self, workers: set[int]) -> bool:
        """Whether these web workers finished booting (storefront/gunicorn_conf.py marks them)."""
        folder = Path(self._env.get(WEB_READY_ENV, ""))
        return workers <= {int(path.name) for path in folder.glob("*") if path.name.isdigit()}

    def _wait_for(self, condition: Callable[[], Any], deadline: float, what: str) -> Any:
        while not (found := condition()):
            self.check_alive()
            if time.monotonic() > deadline:
                raise StackError(f"gave up waiting for {what}")
            time.sleep(0.1)
        return found

    def process_replace(self, name: str, *, overlap: bool, timeout: float = 120.0) -> str:
        """Replace a Celery process with one running the current code; warm shutdown.

        `overlap`: start the new process first, and stop the old one once the new one has
        its pool (a worker: no pause in consuming). Without it (beat, of which only one
        may run), stop the old one first. The old one gets SIGTERM, Celery's warm
        shutdown: it stops taking tasks, finishes the ones it runs and acknowledges them
        (late acks), and the broker hands the ones it had reserved, never started, to the
        new worker: no task is lost, none runs twice.
        """
        spec = next(spec for spec in self.processes if spec.name == name)
        self._generation += 1
        if name == "worker":  # its own node name: two workers may consume at once
            spec = replace(spec, argv=_renamed(spec.argv, f"-g{self._generation}"))
        with self._lock:
            old = self._running[name]
            self._retiring.append(old)
        if overlap:
            new = self._spawn(spec)
            with self._lock:
                self._running[name] = new
            self._wait_pool(new, timeout=timeout)
        started = time.monotonic()
        old.terminate()
        try:
            old.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(old.pid, signal.SIGKILL)
            old.wait()
            raise StackError(f"the old {name} did not stop within {timeout:.0f}s") from None
        finally:
            _signal_group(old.pid, signal.SIGKILL)  # its pool, if anything is left
            with self._lock:
                self._retiring.remove(old)
        if not overlap:
            new = self._spawn(spec)
            with self._lock:
                self._running[name] = new
        return (
            f"pid {old.pid} stopped warm in {time.monotonic() - started:.1f}s "
            f"(exit {old.returncode}); pid {new.pid} serves"
        )

    def _wait_pool(self, process: subprocess.Popen[bytes], *, timeout: float) -> None:
        """Wait until a new Celery worker has forked its pool (it consumes right after)."""
        deadline = time.monotonic() + timeout
        while len(_children(process.pid)) < self.config.worker_concurrency:
            if process.poll() is not None:
                raise StackError(f"the new worker exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise StackError(f"the new worker had no pool within {timeout:.0f}s")
            time.sleep(0.1)

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
        if threading.current_thread() is threading.main_thread():
            from devstack.deploy import DEPLOY_SIGNAL

            # The handler only wakes the deploy thread: the reloads take seconds. That
            # thread lives as long as the supervisor, because the kernel sends a child's
            # PR_SET_PDEATHSIG when the *thread* that started it exits.
            threading.Thread(target=self._deploys_serve, name="deploy", daemon=True).start()
            self._previous_usr1 = signal.signal(DEPLOY_SIGNAL, self._deploy_requested)

    def _deploy_requested(self, signum: int, frame: object) -> None:
        self._deploy_wanted.set()

    def _deploys_serve(self) -> None:
        from devstack.deploy import deploy_request_serve

        while True:
            self._deploy_wanted.wait()
            self._deploy_wanted.clear()
            deploy_request_serve(self)

    def _undescribe(self) -> None:
        if self._previous_usr1 is not None:
            from devstack.deploy import DEPLOY_SIGNAL

            signal.signal(DEPLOY_SIGNAL, self._previous_usr1)
            self._previous_usr1 = None
        if self._described is not None:
            # Still ours: a file of a stack that started after this one died is left.
            if (running_stack(self.config.var_dir) or {}).get("pid") == os.getpid():
                self._described.unlink(missing_ok=True)
            self._described = None

    def check_alive(self) -> None:
        """Raise StackError if a started process has exited."""
        with self._lock:
            # A process a deploy is replacing exits on purpose (beat stops before its
            # successor starts).
            running = [(n, p) for n, p in self._running.items() if p not in self._retiring]
        for name, process in running:
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
            started = [*self._retiring, *reversed(self._running.values())]
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
