"""Drive an HTTP server with wrk and read back what it counted.

Why wrk and not a Python client: on a 2-core machine the client shares the cores with
the server, and wrk (C, an event loop per thread) keeps 64 connections busy for a
fraction of the CPU that Python client processes would take from the server. Its Lua
script (`throughput.lua`) builds every request, so a campaign URL can carry a click id
no request carried before, and counts answers by class: 2xx, shed (503 with
X-Peakstore-Shed) and other.
"""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("throughput.lua")
INSTALL_HINT = "apt-get install -y wrk"
THREADS = 2
# Far above any latency a healthy run sees: a request that slow is an error, not a sample.
TIMEOUT_S = 10
_RESULT_PREFIX = "peakstore-bench "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no result line."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run counted."""

    good: int  # 2xx answers
    shed: int  # 503 answers carrying X-Peakstore-Shed
    other: int  # every other answer (3xx, 4xx, 5xx)
    socket_errors: int  # connect, read and write errors, and timeouts
    duration_s: float
    p99_ms: float

    @property
    def answered(self) -> int:
        return self.good + self.shed + self.other

    @property
    def good_per_s(self) -> float:
        return self.good / self.duration_s if self.duration_s else 0.0


def wrk_require() -> str:
    """Return wrk's path; raise WrkError saying how to install it when it is missing."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkError(f"wrk is not installed; install it with: {INSTALL_HINT}")
    return path


def wrk_argv(*, url: str, connections: int, duration_s: int, click: bool, nonce: str) -> list[str]:
    """Return the command line of one measurement: wrk's threads, a bounded duration."""
    return [
        "wrk",
        f"-t{min(THREADS, connections)}",
        f"-c{connections}",
        f"-d{duration_s}s",
        f"--timeout={TIMEOUT_S}s",
        f"--script={SCRIPT}",
        url,
        "--",
        "click" if click else "plain",
        nonce,
    ]


def wrk_result_parse(output: str) -> WrkResult:
    """Read the result line the script's done() prints; raise WrkError if there is none."""
    for line in output.splitlines():
        if line.startswith(_RESULT_PREFIX):
            counted = json.loads(line.removeprefix(_RESULT_PREFIX))
            return WrkResult(
                good=counted["good"],
                shed=counted["shed"],
                other=counted["other"],
                socket_errors=counted["socket_errors"],
                duration_s=counted["duration_us"] / 1e6,
                p99_ms=counted["p99_us"] / 1e3,
            )
    raise WrkError(f"wrk printed no result line:\n{output}")


def wrk_run(*, url: str, connections: int, duration_s: int, click: bool, nonce: str) -> WrkResult:
    """Run one measurement against `url` (loopback only) and return what wrk counted."""
    if not url.startswith("http://127.0.0.1:"):
        raise WrkError(f"refusing to load anything but 127.0.0.1: {url}")
    argv = wrk_argv(
        url=url, connections=connections, duration_s=duration_s, click=click, nonce=nonce
    )
    argv[0] = wrk_require()
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration_s + 3 * TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr.strip()}")
    return wrk_result_parse(done.stdout)
