"""Boot at a low CPU priority, serve at the one the process was given.

A new web worker, Celery worker or beat spends a second or more of CPU importing the
code before it serves. A deploy at a campaign's peak boots five such processes beside
workers answering shoppers, and on a small host that CPU is taken from them. So a
booting process lowers its priority by `BOOT_NICENESS` and, once ready, goes back.

Going back means lowering a nice value, which Linux allows only with CAP_SYS_NICE or an
RLIMIT_NICE that permits it (systemd's `LimitNICE=`). Where neither holds, a process
boots at its own priority: one left at +10 for its whole life would be worse than a
slow boot. Priorities weigh only against processes of the same session when the kernel
schedules by autogroup (the default of most distributions), which is why the stack's
processes stay in their supervisor's session (`devstack/processes.py`).
"""

import os
import resource

BOOT_NICENESS = 10
# Set by a parent that started this process lowered: the niceness to serve at.
SERVE_NICENESS_ENV = "PEAKSTORE_SERVE_NICENESS"
_CAP_SYS_NICE = 23
_MAX_NICENESS = 19


def may_return_to(niceness: int) -> bool:
    """Whether this process, lowered, could come back to `niceness`."""
    limit = getattr(resource, "RLIMIT_NICE", None)
    if limit is None:  # not Linux: no way back short of root
        return False
    soft, _ = resource.getrlimit(limit)
    # RLIMIT_NICE is a ceiling of 20 - niceness (man 2 setrlimit).
    if soft == resource.RLIM_INFINITY or 20 - niceness <= soft:
        return True
    return _capable(_CAP_SYS_NICE)


def _capable(capability: int) -> bool:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> capability & 1)
    except OSError:
        pass
    return False


def boot_niceness() -> int | None:
    """The niceness to boot at, or None when the process could not come back from it."""
    serve = os.getpriority(os.PRIO_PROCESS, 0)
    if not may_return_to(serve):
        return None
    return min(serve + BOOT_NICENESS, _MAX_NICENESS)


def boot_priority_lower() -> int | None:
    """Lower this process's priority for its boot; return the niceness to serve at, or
    None when it stays where it is (see `boot_niceness`)."""
    serve = os.getpriority(os.PRIO_PROCESS, 0)
    booting = boot_niceness()
    if booting is None:
        return None
    os.setpriority(os.PRIO_PROCESS, 0, booting)
    return serve


def serve_priority_restore(serve: int | None) -> None:
    """Booted: go back to the niceness `boot_priority_lower` returned (None: nothing)."""
    if serve is not None:
        os.setpriority(os.PRIO_PROCESS, 0, serve)


def serve_priority_restore_from_env() -> None:
    """Booted: go back to the niceness a parent that started this process lowered named
    in `SERVE_NICENESS_ENV`; nothing when it is not set."""
    named = os.environ.get(SERVE_NICENESS_ENV, "")
    if named.lstrip("-").isdigit():
        serve_priority_restore(int(named))
