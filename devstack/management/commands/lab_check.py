"""Can this laptop run the lab's exercises? `python manage.py lab_check` (`make lab-check`).

A pre-flight for workshop attendees, done in well under a minute: the Python version,
the cores and memory this process may use, free disk for the store's data, a loopback
port, the database, the tools a lab run starts (gunicorn, Celery, Locust), that these
settings allow the lab at all, and how fast this machine serves a bare Django view now
(`devstack.calibration`: a few seconds of gunicorn). Each check prints a line; a failed
check says what to do, and the command exits non-zero.
"""

import importlib.util
import os
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from devstack.calibration import calibration_measure
from storefront.settings.environment import ENV

MIN_CORES = 2
MIN_MEMORY_GIB = 3.5
MIN_FREE_DISK_GIB = 2.0
# Bare Django under gunicorn on a 2-core laptop serves 2,300-3,700 req/s; under a tenth of
# that, the lab's scenarios (sized for 2 cores) would mostly measure the laptop.
MIN_CALIBRATION_RPS = 300.0
TOOLS = ("gunicorn", "celery", "locust")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", sys.version_info >= (3, 11), version, "install Python 3.11 or newer")


def _cores() -> Check:
    cores = len(os.sched_getaffinity(0))
    return Check("cores", cores >= MIN_CORES, f"{cores}", f"the lab needs {MIN_CORES} cores")


def _memory() -> Check:
    gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return Check(
        "memory", gib >= MIN_MEMORY_GIB, f"{gib:.1f} GiB", "close other programs or use 4 GiB+"
    )


def _disk() -> Check:
    ENV.var_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(ENV.var_dir).free / 2**30
    return Check(
        "disk",
        free >= MIN_FREE_DISK_GIB,
        f"{free:.1f} GiB free in {ENV.var_dir}",
        f"free {MIN_FREE_DISK_GIB:.0f} GiB for the store's data and reports",
    )


def _port() -> Check:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 0))
        except OSError as error:
            return Check("loopback", False, str(error), "allow listening on 127.0.0.1")
        return Check("loopback", True, f"can listen on 127.0.0.1:{sock.getsockname()[1]}")


def _database() -> Check:
    try:
        connection.ensure_connection()
    except Exception as error:  # any driver's error: the point is to report it
        return Check("database", False, str(error), "check DATABASE_URL, or unset it (embedded)")
    return Check("database", True, f"{connection.vendor} ({ENV.profile} profile)")


def _tools() -> Check:
    missing = [tool for tool in TOOLS if importlib.util.find_spec(tool) is None]
    return Check(
        "tools",
        not missing,
        ", ".join(TOOLS) if not missing else f"missing: {', '.join(missing)}",
        "run `make install`",
    )


def _lab_allowed() -> Check:
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
    production = module.endswith(".production")
    return Check(
        "lab allowed",
        not production,
        f"settings {module or 'default'}"
        + (" (PEAKSTORE_LAB=1 already set)" if settings.PEAKSTORE_LAB else ""),
        "the lab never runs under production settings: unset DJANGO_SETTINGS_MODULE",
    )


def _speed() -> Check:
    rps = calibration_measure(log_dir=ENV.var_dir / "log")
    return Check(
        "speed",
        rps >= MIN_CALIBRATION_RPS,
        f"bare Django {rps:.0f} req/s",
        "this machine is busy or slow: close other programs; the lab's figures will be noisy",
    )


CHECKS: tuple[Callable[[], Check], ...] = (
    _python,
    _cores,
    _memory,
    _disk,
    _port,
    _database,
    _tools,
    _lab_allowed,
    _speed,
)


class Command(BaseCommand):
    help = "Check in under a minute whether this machine can run the failure-mode lab."

    def handle(self, *args: object, **options: object) -> None:
        failed = []
        for check_fn in CHECKS:
            check = check_fn()
            mark = self.style.SUCCESS("ok  ") if check.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {check.name:<12} {check.detail}")
            if not check.ok:
                failed.append(check)
                self.stdout.write(f"     -> {check.hint}")
        if failed:
            raise CommandError(
                f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}"
            )
        self.stdout.write(self.style.SUCCESS("Ready for the lab: `make lab MODE=n-plus-one`"))
