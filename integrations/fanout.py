"""Fan-out budgets: which dependencies a page may call, and how long it may wait for them.

A page declares a `FanOutBudget` and starts its dependency calls with `fan_out_start`
before it does its own work; they run on a small thread pool shared by the process, in
parallel with the page's queries. `collect()` then waits for them only until the budget's
deadline: whatever is not back by then is served its fallback, and the page renders
without it. So an optional widget can cost a page at most its budget, and nothing once
its breaker is open.

Tests hold pages to their declarations with `fanout_recorded()`: a call to a dependency
the page did not declare, or a wait past the deadline, fails the test.

With `INTEGRATIONS_RESILIENCE=0` the calls run one after another at `collect()`, with no
deadline: the naive page the benchmark compares against. The failure-mode lab's
`integrations-blocking` mode selects the same naive path (`_budget_ignored_naive`).
"""

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import Context, ContextVar, copy_context
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from toolkit.lab import mode_on
from toolkit.tracing import store_span

# Scheduling noise allowed past a deadline before a recorded page counts as over budget
# (a thread handing back a result, a loaded CI machine); far below any hanging call.
OVERRUN_GRACE_S = 0.1


class UndeclaredDependency(Exception):
    """A page called a dependency its FanOutBudget does not list."""


@dataclass(frozen=True)
class FanOutBudget:
    """A page's promise: it calls only `dependencies`, and waits at most `budget_s`."""

    page: str
    dependencies: frozenset[str]
    budget_s: float


@dataclass
class FanOutRecord:
    """What one page's fan-out did, for tests: calls, outcomes and any overrun."""

    budget: FanOutBudget
    outcomes: dict[str, str] = field(default_factory=dict)  # ok | fallback | deadline
    called: list[str] = field(default_factory=list)  # every dependency_call, in order
    undeclared: list[str] = field(default_factory=list)
    overrun_s: float = 0.0

    @property
    def over_budget(self) -> bool:
        return self.overrun_s > OVERRUN_GRACE_S


_budget: ContextVar[FanOutBudget | None] = ContextVar("fanout_budget", default=None)
_record: ContextVar[FanOutRecord | None] = ContextVar("fanout_record", default=None)
_recorders: list[list[FanOutRecord]] = []

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _fanout_pool() -> ThreadPoolExecutor:
    """Return this process's fan-out pool, created on first use (so after any fork)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    max_workers=settings.INTEGRATIONS_FANOUT_THREADS,
                    thread_name_prefix="fanout",
                )
    return _pool


def _forget_pool_after_fork() -> None:
    global _pool
    _pool = None  # the parent's threads do not exist in the child


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def dependency_called(name: str) -> None:
    """Note a call to `name` against the page budget in force; refuse an undeclared one."""
    budget = _budget.get()
    if budget is None:
        return
    record = _record.get()
    if record is not None:
        record.called.append(name)
    if name not in budget.dependencies:
        if record is not None:
            record.undeclared.append(name)
        raise UndeclaredDependency(f"{budget.page} did not declare {name!r}")


@dataclass
class PendingFanOut:
    """Calls started for a page; `collect()` returns their results by the deadline."""

    budget: FanOutBudget
    calls: Mapping[str, Callable[[], Any]]
    fallbacks: Mapping[str, Any]
    deadline: float
    futures: dict[str, Future[Any]]
    record: FanOutRecord | None
    sequential: bool = False  # the naive page: one call after another, no deadline

    def collect(self) -> dict[str, Any]:
        """Return each call's result, or its fallback if it failed or missed the deadline."""
        with store_span(
            "fanout.wait",
            page=self.budget.page,
            budget_ms=round(self.budget.budget_s * 1000),
            dependencies=sorted(self.calls),
        ):
            return self._collect()

    def _collect(self) -> dict[str, Any]:
        waiting_from = time.monotonic()
        if self.sequential:
            results: dict[str, Any] = {
                name: self._inline(name, call) for name, call in self.calls.items()
            }
            self._overrun(waiting_from)
            return results
        wait(self.futures.values(), timeout=max(self.deadline - waiting_from, 0))
        results = {}
        for name, future in self.futures.items():
            if not future.done():
                future.cancel()  # still queued: it will not run; running: it ends alone
                results[name] = self._fallback(name, "deadline")
            elif future.exception() is not None:
                results[name] = self._fallback(name, "fallback")
            else:
                results[name] = future.result()
                self._note(name, "ok")
        self._overrun(waiting_from)
        return results

    def _overrun(self, waiting_from: float) -> None:
        """Record how far past the deadline the page waited (not its own work's share)."""
        if self.record is not None:
            self.record.overrun_s = time.monotonic() - max(self.deadline, waiting_from)

    def _inline(self, name: str, call: Callable[[], Any]) -> Any:
        try:
            result = _in_budget_context(self.budget, self.record).run(call)
        except Exception:
            return self._fallback(name, "fallback")
        self._note(name, "ok")
        return result

    def _fallback(self, name: str, outcome: str) -> Any:
        from integrations import metrics

        metrics.outcome_count(dependency=name, outcome="fallback")
        self._note(name, outcome)
        return self.fallbacks.get(name)

    def _note(self, name: str, outcome: str) -> None:
        if self.record is not None:
            self.record.outcomes[name] = outcome


def fan_out_start(
    budget: FanOutBudget,
    calls: Mapping[str, Callable[[], Any]],
    *,
    fallbacks: Mapping[str, Any] | None = None,
) -> PendingFanOut:
    """Start `calls` (dependency name -> function) in parallel under `budget`.

    Each function should already degrade on its own (the clients return their fallback
    when the dependency fails); the budget bounds how long the page waits for them.
    Raise UndeclaredDependency at once for a name the budget does not list.
    """
    undeclared = set(calls) - budget.dependencies
    record = _record_start(budget)
    if undeclared:
        if record is not None:
            record.undeclared.extend(sorted(undeclared))
        raise UndeclaredDependency(f"{budget.page} did not declare {sorted(undeclared)}")
    futures: dict[str, Future[Any]] = {}
    sequential = _budget_ignored_naive()
    if not sequential:
        pool = _fanout_pool()
        for name, call in calls.items():
            futures[name] = pool.submit(_in_budget_context(budget, record).run, call)
    return PendingFanOut(
        budget=budget,
        calls=calls,
        fallbacks=fallbacks or {},
        deadline=time.monotonic() + budget.budget_s,
        futures=futures,
        record=record,
        sequential=sequential,
    )


def _budget_ignored_naive() -> bool:
    """Whether pages call their dependencies one after another, waiting for each.

    The lab's naive path (`integrations-blocking`), and the benchmark's resilience-off
    comparison: what a team ships when each widget is "just one HTTP call". It is fast
    while every dependency answers; when an optional one hangs, the page waits for it in
    full, then for the next, so one widget's outage becomes the whole page's latency
    (product page p95 during a partial outage; `fanout_recorded` reports the wait past
    the budget). Never selected unless the lab is on or resilience is switched off.
    """
    return not settings.INTEGRATIONS_RESILIENCE or mode_on("integrations-blocking")


def _in_budget_context(budget: FanOutBudget, record: FanOutRecord | None) -> Context:
    """A copy of the caller's context with the budget in force: it follows the call."""
    context = copy_context()
    context.run(_budget.set, budget)
    context.run(_record.set, record)
    return context


def _record_start(budget: FanOutBudget) -> FanOutRecord | None:
    if not _recorders:
        return None
    record = FanOutRecord(budget=budget)
    for records in _recorders:
        records.append(record)
    return record


@contextmanager
def fanout_recorded(*, strict: bool = True) -> Iterator[list[FanOutRecord]]:
    """Record every page fan-out inside the block; with `strict`, fail on a broken budget.

    A test helper: a page that calls an undeclared dependency or waits past its deadline
    raises AssertionError when the block ends.
    """
    records: list[FanOutRecord] = []
    _recorders.append(records)
    try:
        yield records
    finally:
        _recorders.remove(records)
    if strict:
        for record in records:
            assert not record.undeclared, (
                f"{record.budget.page} called undeclared dependencies {record.undeclared}"
            )
            assert not record.over_budget, (
                f"{record.budget.page} waited {record.overrun_s:.3f}s past its "
                f"{record.budget.budget_s}s fan-out budget"
            )
