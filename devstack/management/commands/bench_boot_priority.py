"""Benchmark what booting processes take from the web workers beside them.

`python manage.py bench_boot_priority` boots the web tier as `make run` does (gunicorn,
2 sync workers), warms a page, then in each round keeps both workers busy with wrk (4
connections) three times over, the three interleaved:

- idle: nothing else runs;
- own session: processes boot the app one after another (a second of CPU each, what a
  web worker, Celery or beat spends before it serves), each in a session of its own at
  the normal priority: how the stack started its processes before;
- lowered: the same boots in the supervisor's session at the boot priority, as the
  stack starts them now (`toolkit.priority`, `devstack/processes.py`).

It prints each mode's good answers a second and its ratio to idle (medians of the
rounds), and whether the kernel schedules by autogroup, on which the own-session figure
depends. Writes reports/bench/boot-priority.json. No target: the deploy-during-spike
scenario judges a whole deploy; this measures the one mechanism.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.prepare import store_prepare
from devstack.processes import Stack, StackConfig, StackError, free_port, web_process
from devstack.wrk import WrkError, wrk_run
from storefront.settings.environment import BASE_DIR
from toolkit.priority import boot_niceness

MODES = ("idle", "own session", "lowered")
# What a web worker imports before it serves (storefront/gunicorn_conf.py).
BOOT = (
    "from storefront.wsgi import application\n"
    "from django.urls import get_resolver\n"
    "get_resolver().url_patterns\n"
)
AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")


def _boots(mode: str, count: int, niceness: int | None, *, after_s: float = 0.0) -> None:
    """Boot the app `count` times, one after another, as `mode` starts a process."""
    time.sleep(after_s)
    argv = [sys.executable, "-c", BOOT]
    for _ in range(count):
        if mode == "own session":
            subprocess.run(argv, cwd=BASE_DIR, start_new_session=True, check=True, timeout=120)
        elif niceness is not None:
            # nice(1) takes an increment; `niceness` is where the boot runs.
            increment = niceness - os.getpriority(os.PRIO_PROCESS, 0)
            lowered = ["nice", "-n", str(increment), *argv]
            subprocess.run(lowered, cwd=BASE_DIR, process_group=0, check=True, timeout=120)
        else:  # where a process could not come back, the stack does not lower it
            subprocess.run(argv, cwd=BASE_DIR, process_group=0, check=True, timeout=120)


def _measure(url: str, mode: str, *, boots: int, seconds: int, niceness: int | None) -> dict:
    """wrk for `seconds` while `mode`'s boots run (from its first second on)."""
    booting = threading.Thread(target=_boots, args=(mode, boots, niceness), kwargs={"after_s": 1})
    if mode != "idle":
        booting.start()
    result = wrk_run(
        url=url, connections=4, duration_s=seconds, click=False, nonce=uuid.uuid4().hex
    )
    if mode != "idle":
        booting.join()
    return {"good_per_s": result.good_per_s, "p99_ms": result.p99_ms, "other": result.other}


class Command(BaseCommand):
    help = "Requests/s of busy web workers while other processes boot, by how they boot."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", default="/", help="a page the page cache serves warm")
        parser.add_argument("--rounds", type=int, default=5)
        parser.add_argument("--boots", type=int, default=4, help="boots a round, in turn")
        parser.add_argument("--seconds", type=int, default=7, help="wrk's run, per mode")
        parser.add_argument("--products", type=int, default=2000, help="seed size if empty")

    def handle(
        self,
        *args: object,
        path: str,
        rounds: int,
        boots: int,
        seconds: int,
        products: int,
        **_: object,
    ) -> None:
        store_prepare(products=products, stdout=self.stdout)
        niceness = boot_niceness()
        config = StackConfig(port=free_port(), log_dir=BASE_DIR / "reports" / "bench" / "boot")
        figures: dict[str, list[dict]] = {mode: [] for mode in MODES}
        try:
            with Stack(config, processes=(web_process(config),)):
                url = f"{config.base_url}{path}"
                wrk_run(url=url, connections=4, duration_s=2, click=False, nonce="warm")
                for _round in range(rounds):
                    for mode in MODES:
                        measured = _measure(
                            url, mode, boots=boots, seconds=seconds, niceness=niceness
                        )
                        figures[mode].append(measured)
        except (StackError, WrkError, subprocess.SubprocessError) as error:
            raise CommandError(str(error)) from None
        rates = {mode: statistics.median(r["good_per_s"] for r in figures[mode]) for mode in MODES}
        autogroup = AUTOGROUP.read_text().strip() == "1" if AUTOGROUP.exists() else False
        summary = {
            "path": path,
            "rounds": rounds,
            "boots_per_round": boots,
            "seconds": seconds,
            "boot_niceness": niceness,
            "autogroup": autogroup,
            "median_good_per_s": {mode: round(rate, 1) for mode, rate in rates.items()},
            "ratio_to_idle": {mode: round(rates[mode] / rates["idle"], 3) for mode in MODES},
            "rounds_measured": figures,
        }
        report = BASE_DIR / "reports" / "bench" / "boot-priority.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(summary, indent=2))
        lowered = f"nice {niceness}" if niceness is not None else "not lowered (no way back)"
        self.stdout.write(
            f"{path} under wrk -c4, medians of {rounds} interleaved rounds, {boots} boots "
            f"of the app a round (autogroup {'on' if autogroup else 'off'}):\n"
            + "\n".join(
                f"  {mode:<12} {rates[mode]:8.0f} good/s  {rates[mode] / rates['idle']:.2f}x idle"
                + (f"  ({lowered})" if mode == "lowered" else "")
                for mode in MODES
            )
        )
        if any(r["other"] for measured in figures.values() for r in measured):
            raise CommandError("answers other than 2xx; see the report")
