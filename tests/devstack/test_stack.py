"""The real processes: concurrency through both web workers, an order end to end with its
confirmation email from the Celery worker, and a clean stop with no process left behind."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devstack.processes import ProcessSpec, Stack, StackConfig, free_port, http_ready
from storefront.settings.environment import BASE_DIR
from tests.devstack.conftest import cart_with, http, order_post
from toolkit.priority import SERVE_NICENESS_ENV, boot_niceness

pytestmark = pytest.mark.stack
# What `run_stack` starts by default: the simulator, gunicorn with 2 workers, a Celery
# worker with a pool of 2, and Celery beat.
RUN_STACK_PROCESSES = 1 + 3 + 3 + 1


def _children(pid: int) -> list[int]:
    """Every descendant of `pid`, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _running(pid: int) -> bool:
    """True if the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_until(condition, *, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _place_order(base_url: str, sku: str) -> dict:
    order = order_post(base_url, cart_with(base_url, sku))
    assert order.status == 201, order.body
    return order.json()


def test_concurrent_reads_and_writes_through_both_web_workers_give_no_errors(stack, store_catalog):
    # given the two web workers, and product pages and SKUs of the seeded store
    web_pid = stack.pids["web"]
    workers_before = set(_children(web_pid))
    slugs = [product["slug"] for product in store_catalog["products"]]
    skus = [sku for product in store_catalog["products"] for sku in product["skus"]]
    base = stack.config.base_url

    def visit(index: int) -> list[str]:
        """Read pages; every fifth visit also writes (a cart and a line) to the database."""
        errors = []
        page = http("GET", f"{base}/p/{slugs[index % len(slugs)]}/")
        if page.status != 200:
            errors.append(f"GET /p/ -> {page.status}: {page.body[:200]}")
        if index % 5 == 0:
            cart = http("POST", f"{base}/api/v1/carts/", payload={})
            if cart.status != 201:
                errors.append(f"POST carts -> {cart.status}: {cart.body[:200]}")
            else:
                token = cart.json()["token"]
                line = http(
                    "POST",
                    f"{base}/api/v1/carts/{token}/lines/",
                    payload={"sku": skus[index % len(skus)], "quantity": 1},
                )
                if line.status != 201:
                    errors.append(f"POST lines -> {line.status}: {line.body[:200]}")
        return errors

    # when 8 threads make 240 visits at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        errors = [error for result in pool.map(visit, range(240)) for error in result]

    # then nothing failed ("database is locked" would be a 500), and no worker died
    assert errors == []
    assert len(workers_before) == stack.config.web_workers
    assert set(_children(web_pid)) == workers_before


def test_order_through_the_api_is_paid_and_the_worker_emails_the_confirmation(
    stack, store_catalog, stack_env
):
    # given an in-stock SKU
    sku = next(sku for product in store_catalog["products"] for sku in product["skus"])

    # when a buyer places an order through the API
    order = _place_order(stack.config.base_url, sku)

    # then it is paid, and the Celery worker writes the confirmation into the mail folder
    assert order["status"] == "paid"
    mail_dir = Path(stack_env["PEAKSTORE_VAR_DIR"]) / "mail"

    def confirmation_sent() -> bool:
        return mail_dir.is_dir() and any(
            order["number"] in message.read_text(errors="replace") for message in mail_dir.iterdir()
        )

    assert _wait_until(confirmation_sent, timeout=60), f"no email for {order['number']}"


def test_stopping_the_supervisor_leaves_no_process(stack_env, tmp_path):
    # given a second stack beside the first, on its own ports
    config = StackConfig(
        port=free_port(),
        simulator_port=free_port(),
        env=stack_env,
        log_dir=tmp_path,
        ready_timeout=90,
    )
    # simulator, gunicorn and its workers, Celery and its pool (forked once it is connected),
    # beat
    expected = 1 + 1 + config.web_workers + 1 + config.worker_concurrency + 1
    with Stack(config) as second:

        def started() -> list[int]:
            return [pid for leader in second.pids.values() for pid in [leader, *_children(leader)]]

        assert _wait_until(lambda: len(started()) >= expected, timeout=60), started()
        started_pids = started()

    # when its context ends, then every process it started is gone
    assert [pid for pid in started_pids if _running(pid)] == []


def test_the_stack_shares_the_supervisors_session_and_serves_at_its_priority(stack):
    # given the stack this test process supervises, every process of it booted
    session, niceness = os.getsid(0), os.getpriority(os.PRIO_PROCESS, 0)

    def processes() -> list[int]:
        return [pid for leader in stack.pids.values() for pid in [leader, *_children(leader)]]

    # then they are all in this session: with autogroup scheduling each session shares
    # the CPU as one group, and a process alone in one would weigh as all the web workers
    assert {os.getsid(pid) for pid in processes()} == {session}
    # and each serves at the supervisor's priority (Celery's come back to it once ready)
    assert _wait_until(
        lambda: {os.getpriority(os.PRIO_PROCESS, pid) for pid in processes()} == {niceness},
        timeout=60,
    ), {pid: os.getpriority(os.PRIO_PROCESS, pid) for pid in processes()}


def test_a_process_that_boots_lowered_is_started_lowered_and_told_where_to_come_back(
    stack_env, tmp_path
):
    # given a process declared to boot lowered, which writes what it was started with
    seen = tmp_path / "seen"
    script = (
        "import os, time\n"
        f"words = (os.getpriority(os.PRIO_PROCESS, 0), os.environ.get({SERVE_NICENESS_ENV!r}))\n"
        f"open({str(seen)!r}, 'w').write(' '.join(map(str, words)))\n"
        "time.sleep(60)\n"
    )
    probe = ProcessSpec(name="probe", argv=(sys.executable, "-c", script), boots_lowered=True)
    config = StackConfig(port=free_port(), env=stack_env, log_dir=tmp_path)

    # when the supervisor starts it
    with Stack(config, processes=[probe]):
        assert _wait_until(lambda: seen.exists() and seen.read_text(), timeout=30)
        started = seen.read_text().split()

    # then it started lowered, told the supervisor's niceness to come back to; where the
    # supervisor could not come back from a lowered priority, neither
    niceness, booting = os.getpriority(os.PRIO_PROCESS, 0), boot_niceness()
    expected = [str(niceness), "None"] if booting is None else [str(booting), str(niceness)]
    assert started == expected


def _run_stack(stack_env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_stack",
                "--port",
                str(port),
                "--simulator-port",
                str(free_port()),
            ],
            cwd=BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings", **stack_env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_stack_stops_every_process_it_started_on_a_signal(stack_env, tmp_path, signum):
    # given `manage.py run_stack` serving
    port, log = free_port(), tmp_path / "run_stack.log"
    command = _run_stack(stack_env, port, log)
    try:
        assert _wait_until(lambda: http_ready(f"http://127.0.0.1:{port}/healthz"), timeout=120)
        assert _wait_until(
            lambda: len(_children(command.pid)) >= RUN_STACK_PROCESSES, timeout=60
        ), log.read_text()
        started = _children(command.pid)

        # when it gets the signal
        command.send_signal(signum)
        command.wait(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()

    # then it exits cleanly, and nothing it started is left running
    assert command.returncode == 0, log.read_text()
    assert [pid for pid in started if _running(pid)] == []


def test_processes_stop_when_the_supervisor_is_killed(stack_env, tmp_path):
    # given `manage.py run_stack` serving
    port, log = free_port(), tmp_path / "run_stack.log"
    command = _run_stack(stack_env, port, log)
    try:
        assert _wait_until(lambda: http_ready(f"http://127.0.0.1:{port}/healthz"), timeout=120)
        assert _wait_until(
            lambda: len(_children(command.pid)) >= RUN_STACK_PROCESSES, timeout=60
        ), log.read_text()
        started = _children(command.pid)
        # when the supervisor dies without any chance to clean up
        command.kill()
        command.wait(timeout=10)
    finally:
        if command.poll() is None:
            command.kill()

    # then the kernel's parent-death signal stops its processes all the same
    assert _wait_until(lambda: not any(_running(pid) for pid in started), timeout=30), [
        pid for pid in started if _running(pid)
    ]


def test_free_ports_lie_below_the_ephemeral_range_and_are_not_given_twice():
    # An outgoing connection takes its port from the ephemeral range; a port from there
    # could be taken between free_port() and the server's bind.
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert all(port < low for port in ports)
    assert len(set(ports)) == len(ports)
