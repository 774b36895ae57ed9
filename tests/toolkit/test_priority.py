"""Boot lowered, serve at the priority given: only where the process can come back."""

import os
import resource
import subprocess
import sys

import pytest

from toolkit import priority


@pytest.fixture
def no_capability(monkeypatch):
    monkeypatch.setattr(priority, "_capable", lambda capability: False)


@pytest.mark.parametrize(
    ("soft", "niceness", "allowed"), [(20, 0, True), (15, 5, True), (19, 0, False)]
)
def test_the_nice_limit_says_how_far_back_a_process_may_come(
    monkeypatch, no_capability, soft, niceness, allowed
):
    # given RLIMIT_NICE's ceiling of 20 - niceness, and no CAP_SYS_NICE
    monkeypatch.setattr(resource, "getrlimit", lambda limit: (soft, soft))

    # then a lowered process may come back to the niceness the limit reaches, not beyond
    assert priority.may_return_to(niceness) is allowed


def test_the_capability_lets_a_process_come_back_whatever_its_limit(monkeypatch):
    monkeypatch.setattr(resource, "getrlimit", lambda limit: (0, 0))
    monkeypatch.setattr(priority, "_capable", lambda capability: capability == 23)

    assert priority.may_return_to(0)


def test_a_process_that_could_not_come_back_boots_at_its_own_priority(monkeypatch, no_capability):
    # given no way back (no limit, no capability)
    monkeypatch.setattr(resource, "getrlimit", lambda limit: (0, 0))
    calls = []
    monkeypatch.setattr(os, "setpriority", lambda *args: calls.append(args))

    # then its boot is not lowered, and there is nothing to restore
    assert priority.boot_niceness() is None
    assert priority.boot_priority_lower() is None
    priority.serve_priority_restore(None)
    assert calls == []


def _in_a_process(script: str, *, niceness: int = 0, env: dict | None = None) -> list[str]:
    """Run `script` in a fresh interpreter started at `niceness`; its printed words."""
    done = subprocess.run(
        [sys.executable, "-c", "import os\nfrom toolkit import priority\n" + script],
        env={**os.environ, **(env or {})},
        preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, niceness),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_booting_process_is_lowered_then_comes_back():
    # given a process at its parent's niceness
    base = os.getpriority(os.PRIO_PROCESS, 0)

    # when it boots lowered, then is booted
    words = _in_a_process(
        "serve = priority.boot_priority_lower()\n"
        "booting = os.getpriority(os.PRIO_PROCESS, 0)\n"
        "priority.serve_priority_restore(serve)\n"
        "print(booting, os.getpriority(os.PRIO_PROCESS, 0))\n",
        niceness=base,
    )

    # then it booted 10 lower where it could come back (root here), and serves at its own
    lowered = min(base + priority.BOOT_NICENESS, 19) if priority.may_return_to(base) else base
    assert words == [str(lowered), str(base)]


def test_a_process_started_lowered_comes_back_to_the_niceness_its_parent_named():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if not priority.may_return_to(base):
        # a parent without the right never starts one lowered (devstack/processes.py)
        assert priority.boot_niceness() is None
        return
    booting = priority.boot_niceness()

    # given a process its parent started lowered, naming the niceness to serve at
    words = _in_a_process(
        "priority.serve_priority_restore_from_env()\nprint(os.getpriority(os.PRIO_PROCESS, 0))\n",
        niceness=booting,
        env={priority.SERVE_NICENESS_ENV: str(base)},
    )

    # then, booted, it serves there
    assert words == [str(base)]
