"""Run a real Prometheus against the running stack: `python manage.py observe` (`make observe`).

It scrapes the stack that runs on this var dir (`make run` or `make demo` in another
terminal) with the project's rules (`docs/ops/`: recording rules, SLO burn rates,
alerts), keeps its data under `$PEAKSTORE_VAR_DIR/prometheus`, listens on a free
loopback port, prints where to look, and runs until Ctrl-C (or `--seconds`).
Prometheus is Debian's package (`/usr/bin/prometheus`); without it, the command prints
the install command and exits 1.
"""

import contextlib
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.processes import free_port, http_status, sigterm_as_interrupt
from storefront.settings.environment import BASE_DIR, ENV, running_stack

OPS_DIR = BASE_DIR / "docs" / "ops"
RULE_FILES = ("prometheus-rules.yml", "prometheus-slo-rules.yml", "prometheus-alerts.yml")
INSTALL = "sudo apt-get install prometheus"
# The latency budget's burn rate over an hour, per critical route (URL-encoded).
BURN_RATE_QUERY = "peakstore%3Aslo_latency_bad%3Aratio_rate1h%20%2F%200.05"


def observe_config(*, target: str, ops_token: str = "") -> str:
    """The scrape configuration for one stack: docs/ops/prometheus.yml's, made concrete."""
    rules = "\n".join(f"  - {OPS_DIR / name}" for name in RULE_FILES)
    authorization = (
        f"    authorization:\n      type: Bearer\n      credentials: {ops_token}\n"
        if ops_token
        else ""
    )
    return (
        "# Written by `manage.py observe` for the stack it scrapes; docs/ops/prometheus.yml\n"
        "# is the one to copy.\n"
        "global:\n  scrape_interval: 5s\n  evaluation_interval: 15s\n"
        f"rule_files:\n{rules}\n"
        "scrape_configs:\n  - job_name: peakstore\n    metrics_path: /metrics\n"
        f"{authorization}"
        f'    static_configs:\n      - targets: ["{target}"]\n'
        f"        labels:\n          profile: {ENV.profile}\n"
    )


class Command(BaseCommand):
    help = "Run Prometheus with the project's scrape config and rules against the running stack."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--target", help="host:port to scrape (default: the running stack)")
        parser.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")

    def handle(self, *args: object, target: str | None, seconds: float | None, **_: object) -> None:
        prometheus = shutil.which("prometheus")
        if prometheus is None:
            self.stderr.write(f"Prometheus is not installed. Install it with:\n    {INSTALL}")
            raise SystemExit(1)
        if target is None:
            stack = running_stack(ENV.var_dir)
            if stack is None:
                raise CommandError(f"no stack runs on {ENV.var_dir}: start one with `make run`")
            target = urlsplit(str(stack["base_url"])).netloc
        home = ENV.var_dir / "prometheus"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "prometheus.yml"
        config.write_text(observe_config(target=target, ops_token=ENV.ops_token))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=2d",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(home / "prometheus.log").open("w"),
        )
        # SIGTERM (a supervisor, a test) stops Prometheus too, as Ctrl-C does.
        with sigterm_as_interrupt(), contextlib.suppress(KeyboardInterrupt):
            self._serve(process, url, home, target=target, seconds=seconds)

    def _serve(
        self,
        process: subprocess.Popen,
        url: str,
        home: Path,
        *,
        target: str,
        seconds: float | None,
    ) -> None:
        try:
            self._wait_ready(process, url, home)
            self.stdout.write(
                f"Prometheus scrapes {target} at {url}\n"
                f"  targets:  {url}/targets\n  alerts:   {url}/alerts\n  rules:    {url}/rules\n"
                f"  burn rate: {url}/graph?g0.expr={BURN_RATE_QUERY}\n"
                f"  log: {home / 'prometheus.log'}; Ctrl-C stops it."
            )
            self._run(process, seconds)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    @staticmethod
    def _wait_ready(process: subprocess.Popen, url: str, home: Path) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError(f"Prometheus exited; see {home / 'prometheus.log'}")
            if http_status(f"{url}/-/ready") == 200:
                return
            time.sleep(0.3)
        raise CommandError(f"Prometheus did not get ready in 30 s; see {home / 'prometheus.log'}")

    @staticmethod
    def _run(process: subprocess.Popen, seconds: float | None) -> None:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
