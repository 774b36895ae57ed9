"""bench_boot_priority starts its boots as each mode says: own session, or lowered in ours."""

import os

from devstack.management.commands import bench_boot_priority as bench

SEEN = "import os; print(os.getsid(0), os.getpriority(os.PRIO_PROCESS, 0))"


def _seen(capfd) -> list[int]:
    return [int(word) for word in capfd.readouterr().out.split()]


def test_an_own_session_boot_runs_in_a_new_session_at_our_priority(monkeypatch, capfd):
    monkeypatch.setattr(bench, "BOOT", SEEN)

    bench._boots("own session", 1, niceness=5)

    session, niceness = _seen(capfd)
    assert session != os.getsid(0)
    assert niceness == os.getpriority(os.PRIO_PROCESS, 0)


def test_a_lowered_boot_runs_in_our_session_at_the_boot_priority(monkeypatch, capfd):
    monkeypatch.setattr(bench, "BOOT", SEEN)
    lowered = min(os.getpriority(os.PRIO_PROCESS, 0) + 5, 19)

    bench._boots("lowered", 2, niceness=lowered)

    assert _seen(capfd) == [os.getsid(0), lowered] * 2


def test_a_lowered_boot_runs_at_the_niceness_asked_whatever_ours(monkeypatch, capfd):
    # given this process reads as nice 3 (nice(1) adds to it: the boot must not add 8)
    monkeypatch.setattr(bench, "BOOT", SEEN)
    real = os.getpriority(os.PRIO_PROCESS, 0)
    monkeypatch.setattr(bench.os, "getpriority", lambda which, who: real + 3)

    bench._boots("lowered", 1, niceness=real + 8)

    # then the boot runs 8 - 3 = 5 above where this process really is
    assert _seen(capfd)[1] == real + 5
