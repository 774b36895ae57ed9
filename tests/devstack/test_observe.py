"""`manage.py observe` (`make observe`): a real Prometheus with the project's rules.

Against a small /metrics server of the test's own rather than a whole stack: what is
tested is that Prometheus starts with the scrape configuration and every rule file,
scrapes the target, and stops with the command.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from storefront.settings.environment import BASE_DIR


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'peakstore_celery_queue_depth{queue="celery"} 3\n'
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def metrics_target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_observe_runs_prometheus_with_every_rule_file_and_scrapes_the_target(
    metrics_target, tmp_path
):
    if shutil.which("prometheus") is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing in CI: .ci/run installs Debian's prometheus")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    command = subprocess.Popen(
        [sys.executable, "manage.py", "observe", "--target", metrics_target, "--seconds", "60"],
        cwd=BASE_DIR,
        env={**os.environ, "PEAKSTORE_VAR_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = command.stdout.readline() if command.stdout else ""
        found = re.search(r"at (http://127\.0\.0\.1:\d+)", first)
        assert found, first
        url = found.group(1)
        deadline = time.monotonic() + 45
        value = None
        while time.monotonic() < deadline and value is None:
            result = _get(f"{url}/api/v1/query?query=peakstore_celery_queue_depth")["data"][
                "result"
            ]
            value = result[0]["value"][1] if result else None
            time.sleep(0.5)
        rules = _get(f"{url}/api/v1/rules")["data"]["groups"]
    finally:
        command.terminate()
        command.wait(timeout=30)

    assert value == "3"
    names = {rule["name"] for group in rules for rule in group["rules"]}
    assert {"PeakstoreLatencyBudgetBurnFast", "PeakstoreShedRateHigh"} <= names
    assert "peakstore:slo_latency_bad:ratio_rate1h" in names


def test_observe_without_prometheus_says_how_to_install_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "observe", "--target", "127.0.0.1:9"],
        cwd=BASE_DIR,
        env={**os.environ, "PATH": str(tmp_path), "PEAKSTORE_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "apt-get install prometheus" in result.stderr
