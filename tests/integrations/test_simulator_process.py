"""The simulator as a process: it announces itself, serves concurrently, stops on signal."""

import contextlib
import signal
import threading
import time

import httpx
import pytest

from tests.simulator import running_simulator


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_simulator_even_with_requests_hanging(stop_signal):
    with running_simulator(seed=1) as simulator:
        simulator.set_fault("payment", hang=True)
        hanging = [
            threading.Thread(
                target=_get_ignoring_errors, args=(f"{simulator.url}/payment/captures",)
            )
            for _ in range(3)
        ]
        for thread in hanging:
            thread.start()
        _wait_until_received(simulator, 3)

        simulator.process.send_signal(stop_signal)

        assert simulator.process.wait(timeout=5) == 0
        for thread in hanging:
            thread.join(timeout=5)
            assert not thread.is_alive()


def test_concurrent_requests_are_served_while_others_hang(upstream_simulator):
    upstream_simulator.set_fault("payment", hang=True)
    hanging = threading.Thread(
        target=_get_ignoring_errors, args=(f"{upstream_simulator.url}/payment/captures", 1.0)
    )
    hanging.start()
    _wait_until_received(upstream_simulator, 1)

    answers = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(httpx.get(f"{upstream_simulator.url}/health").status_code)
        )
        for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    hanging.join(timeout=5)

    assert answers == [200] * 10


def _get_ignoring_errors(url, timeout=10.0):
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, timeout=timeout)


def _wait_until_received(simulator, count):
    """Wait (bounded) until the simulator has counted `count` payment requests."""
    for _ in range(100):
        if simulator.stats("payment").get("requests", 0) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the simulator never received {count} requests")
