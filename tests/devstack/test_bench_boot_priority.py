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
