"""What machine a load run runs on: its class, and how fast it is right now.

A latency figure means little without its machine: the same store answers in 40 ms on an
idle 8-core runner and in 400 ms on two shared cores. So every load run records a
`MachineClass` (cores this process may use, memory, the profile) and a calibration
figure measured at its start: requests per second that bare Django
(`devstack.bare_django`, under the store's gunicorn command line) answers on loopback
for a few seconds, from a fixed number of client threads. Baselines are kept per class
and scaled between classes by that figure (`loadtests.gates.baseline_choose`), and
`loadtest compare` uses it to bound the drift between two runs.
"""

import http.client
import os
import tempfile
import threading
import time
from pathlib import Path

from devstack.processes import ProcessSpec, Stack, StackConfig, free_port, web_process
from loadtests.gates import MachineClass

CALIBRATION_SECONDS = 3.0
WARM_SECONDS = 0.5
CLIENTS = 2
# A bound besides the clock, far above what two cores answer in CALIBRATION_SECONDS.
MAX_REQUESTS = 100_000


def bare_process(config: StackConfig) -> ProcessSpec:
    """Return the store's gunicorn command line serving bare Django instead of the store.

    Derived from the store's, so workers, worker class, timeouts, bind address and the
    control socket stay identical; only `--config` goes, whose hooks are the store's.
    """
    argv = list(web_process(config).argv)
    hooks = argv.index("--config")
    del argv[hooks : hooks + 2]
    argv[argv.index("storefront.wsgi")] = "devstack.bare_django:application"
    return ProcessSpec(
        name="bare", argv=tuple(argv), ready_url=f"{config.base_url}/", port=config.port
    )


def machine_describe(*, profile: str, calibration_rps: float | None) -> MachineClass:
    """This machine's class: the cores this process may run on (a container's or a CPU
    set's, not the host's), physical memory in GiB, rounded, and the profile."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return MachineClass(
        cores=len(os.sched_getaffinity(0)),
        memory_gib=round(memory / 2**30),
        profile=profile,
        calibration_rps=calibration_rps,
    )


def _request_loop(host: str, port: int, *, until: float, counted_from: float) -> int:
    """GET / as fast as answers come (sync gunicorn closes each connection, as it does for
    the store); return how many answered 200 after `counted_from`."""
    answered = 0
    for _ in range(MAX_REQUESTS):
        now = time.monotonic()
        if now >= until:
            break
        connection = http.client.HTTPConnection(host, port, timeout=5)
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            if response.status == 200 and now >= counted_from:
                answered += 1
        finally:
            connection.close()
    return answered


def calibration_measure(
    *, seconds: float = CALIBRATION_SECONDS, log_dir: Path | None = None
) -> float:
    """Bare Django's req/s on this machine now: a bounded loop on a free loopback port."""
    with tempfile.TemporaryDirectory(prefix="peakstore-calibration-") as metrics:
        # Its own metrics folder: a stack empties its folder as it starts.
        config = StackConfig(
            port=free_port(), env={"PROMETHEUS_MULTIPROC_DIR": metrics}, log_dir=log_dir
        )
        with Stack(config, processes=(bare_process(config),)):
            counted_from = time.monotonic() + WARM_SECONDS
            until = counted_from + seconds
            counts: list[int] = []
            threads = [
                threading.Thread(
                    target=lambda: counts.append(
                        _request_loop(
                            config.host, config.port, until=until, counted_from=counted_from
                        )
                    )
                )
                for _ in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=seconds + WARM_SECONDS + 30)
    return round(sum(counts) / seconds, 1)
