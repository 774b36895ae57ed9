"""bench_overload's wait for a quiet machine before it probes the capacity, and its
warning when the machine slowed after it."""

import asyncio
import random
import subprocess
import sys
import time
from dataclasses import replace

from devstack.management.commands import bench_overload
from devstack.management.commands.bench_overload import Session
from loadtests.openloop import Target
from loadtests.overload import phase_figures

BUSY_LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"


def _settle_beside_busy_celery(busy_s: float) -> tuple[float, list[str]]:
    """Wait for the helpers to settle while a "Celery" keeps a core busy for `busy_s`;
    return how long the wait took and what it said."""
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=busy_s)])
    lines: list[str] = []
    session = Session(
        target=Target("127.0.0.1", 9),
        pids={"web": busy.pid, "celery": busy.pid},
        rng=random.Random(1),
        write=lines.append,
        loadgen_key="",
        workers=2,
    )
    try:
        started = time.monotonic()
        asyncio.run(session.helpers_settle())
        return time.monotonic() - started, lines
    finally:
        busy.kill()
        busy.wait()


def test_the_probe_waits_while_celery_is_busy():
    waited, lines = _settle_beside_busy_celery(2.5)

    assert waited >= 2.0
    assert any("waiting for the simulator and Celery to settle" in line for line in lines)


def test_the_probe_gives_up_waiting_after_its_bound(monkeypatch):
    monkeypatch.setattr(bench_overload, "QUIET_WAIT_S", 1.5)

    waited, lines = _settle_beside_busy_celery(20)

    # it probes anyway, within a second of its bound, and says so
    assert waited < 4.0
    assert lines[-1].startswith("  the simulator and Celery still use")


def _below_capacity(server_s: float):
    """A 20 s below-capacity phase whose admitted requests took `server_s` of server time."""
    phase = phase_figures(
        name="below capacity", factor=0.8, seconds=20, outcomes=[], scrapes=[], routes={}, slos={}
    )
    return replace(phase, server_s=server_s)


def test_a_phase_busier_than_its_share_of_the_probe_warns_that_the_machine_slowed():
    # given a probe that kept 2 workers 90% busy: a 0.8x phase should keep them about 72%
    as_planned = _below_capacity(server_s=0.72 * 40)
    slowed = _below_capacity(server_s=0.85 * 40)

    assert bench_overload.slower_machine([as_planned], workers=2, probe_busy=0.9) == ""
    warning = bench_overload.slower_machine([slowed], workers=2, probe_busy=0.9)
    assert "busy 0.94 of the probe's time" in warning


def test_goodput_is_told_as_busy_workers_times_the_admitted_mix():
    # the probe: 2 workers 90% busy at 300/s, 6 ms of server time a request
    probe = {"busy": 0.9, "goodput_per_s": 300.0, "mean_server_ms": 6.0}
    # an overload phase of 20 s: 4,500 admitted requests of 7.5 ms each (a dearer mix)
    phase = _below_capacity(server_s=4500 * 0.0075)
    phase = replace(
        phase,
        factor=1.5,
        goodput_per_s=225.0,
        wait=replace(phase.wait, server_requests=4500),
    )

    line = bench_overload.goodput_factors(phase, workers=2, probe=probe)

    # 225/300 = 0.75 = (33.75 s / 40 s ÷ 0.9) x (6 ms ÷ 7.5 ms) = 0.94 x 0.80
    assert line == (
        "  goodput 0.75x capacity: workers 0.94 as busy with admitted requests as in the "
        "probe, each taking 7.5 ms of server time against the probe's 6.0 (0.80)"
    )
