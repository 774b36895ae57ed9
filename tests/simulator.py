"""Fixtures that give every test a real upstream simulator process.

One simulator per test session (per xdist worker), on a port the system picks; each test
points the clients at it and leaves every fault profile healthy behind it. Payment state
lives as long as the process, so tests use references of their own.
"""

import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.simulator.server import CONTROL_HEADER

ROOT = Path(__file__).resolve().parent.parent
READY_PREFIX = "simulator listening on "
START_TIMEOUT_S = 15


@dataclass
class UpstreamSimulator:
    url: str
    process: subprocess.Popen[str]

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.url}{path}", headers={CONTROL_HEADER: "1"}, timeout=5, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def set_fault(self, dependency: str, **profile: Any) -> dict[str, Any]:
        """Replace a dependency's fault profile, e.g. `set_fault("payment", hang=True)`."""
        return self._control("PUT", f"/_faults/{dependency}", json=profile)

    def reset(self) -> None:
        """Make every dependency healthy, rewind the fault streams, zero the counters."""
        self._control("POST", "/_faults/reset")

    def forget(self) -> None:
        """Make every dependency forget its payments, captures and exports."""
        self._control("POST", "/_state/reset")

    def stats(self, dependency: str) -> dict[str, int]:
        """Requests a dependency received since the last reset, by outcome."""
        return self._control("GET", "/_stats")[dependency]

    def erp_orders(self, reference: str | None = None) -> list[dict[str, Any]]:
        """The orders the ERP has booked: all of them, or one reference's."""
        params = {"reference": reference} if reference else None
        return self._control("GET", "/erp/orders", params=params)["orders"]


@contextmanager
def running_simulator(
    *,
    seed: int = 0,
    catalog: Path | None = None,
    state: Path | None = None,
    reset_state: bool = False,
    books: Path | None = None,
) -> Iterator[UpstreamSimulator]:
    """Start a simulator process on a free port, wait until it answers, stop it after.

    `state`: the SQLite file it keeps its records in (`--state`), else memory; `books`:
    the prices and stock its PIM and ERP start from (`--books`).
    """
    catalog_args = ["--catalog", str(catalog)] if catalog else []
    if books is not None:
        catalog_args += ["--books", str(books)]
    if state is not None:
        catalog_args += ["--state", str(state), *(["--reset-state"] if reset_state else [])]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "integrations.simulator",
            "--port",
            "0",
            "--seed",
            str(seed),
            *catalog_args,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=START_TIMEOUT_S)
        # With --port 0 the ready line is the only place that says which port it got.
        line = process.stdout.readline().strip() if ready else ""
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"upstream simulator did not start: {line!r}")
        simulator = UpstreamSimulator(url=line.removeprefix(READY_PREFIX), process=process)
        httpx.get(f"{simulator.url}/health", timeout=5).raise_for_status()
        yield simulator
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


@pytest.fixture(scope="session")
def upstream_simulator():
    """A running `python -m integrations.simulator` for the whole session."""
    with running_simulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _upstream(upstream_simulator, settings):
    """Point the integrations clients at the simulator; leave it healthy afterwards."""
    settings.INTEGRATIONS_UPSTREAM_URL = upstream_simulator.url
    yield upstream_simulator
    upstream_simulator.reset()
    # Each test's database starts empty; the gateway's records must too, or the order
    # audit would see captures for orders that no longer exist.
    upstream_simulator.forget()
