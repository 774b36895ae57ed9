"""Turn bench_throughput's measurements into figures, a table and a verdict.

Pure functions: no server, no clock. A measurement is one wrk run against the store or
against bare Django; a round measures every cell once, bare and store back to back. A
ratio is taken within each round and the median over rounds is reported, so drift in
the machine's load between rounds (the machine is shared) lands on both sides alike.
"""

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from devstack.wrk import WrkResult

PAGES = ("category", "product", "robots")
# Good (2xx) requests/s of the store ÷ bare Django's, per page (docs/benchmarks.md).
BARE_RATIO_TARGETS = {"category": 0.6, "product": 0.6, "robots": 0.7}
# Good requests/s with campaign parameters and a unique click id ÷ without.
CLICK_RATIO_TARGET = 0.9


@dataclass(frozen=True)
class Measurement:
    """One wrk run: `side` is "store" or "bare", `form` is "plain" or "click"."""

    round: int
    side: str
    page: str
    form: str
    connections: int
    result: WrkResult
    # CPU time the gunicorn master and its workers spent during the run.
    cpu_s: float


@dataclass(frozen=True)
class Row:
    """One line of the table: a store URL form at one concurrency, over every round."""

    page: str
    form: str
    connections: int
    store_good_per_s: float  # medians over rounds
    bare_good_per_s: float
    ratio: float | None  # median of the rounds' store ÷ bare; None: bare answered nothing
    click_ratio: float | None  # click rows: median of the rounds' click ÷ plain
    shed_share: float  # of every answer, over all rounds
    errors: int  # answers neither 2xx nor shed, and socket errors
    store_p99_ms: float  # medians over rounds
    bare_p99_ms: float
    store_cpu_us: float  # CPU per answered request, over all rounds
    bare_cpu_us: float


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float | None:
    """Return the median of the per-round ratios, skipping rounds with a zero denominator.

    None when no round has a denominator: there is nothing to compare against.
    """
    ratios = [n / d for n, d in zip(numerators, denominators, strict=True) if d]
    return statistics.median(ratios) if ratios else None


def cpu_us_per_answer(measurements: Iterable[Measurement]) -> float:
    measured = list(measurements)
    answered = sum(m.result.answered for m in measured)
    return sum(m.cpu_s for m in measured) / answered * 1e6 if answered else 0.0


def _by_round(measurements: Iterable[Measurement]) -> list[Measurement]:
    return sorted(measurements, key=lambda m: m.round)


def _row(store: list[Measurement], bare: list[Measurement], plain: list[Measurement]) -> Row:
    """Summarize one store cell against the bare runs (and plain runs) of the same rounds."""
    first = store[0]
    answered = sum(m.result.answered for m in store)
    good = [m.result.good_per_s for m in store]
    return Row(
        page=first.page,
        form=first.form,
        connections=first.connections,
        store_good_per_s=statistics.median(good),
        bare_good_per_s=statistics.median(m.result.good_per_s for m in bare),
        ratio=median_ratio(good, [m.result.good_per_s for m in bare]),
        click_ratio=(
            median_ratio(good, [m.result.good_per_s for m in plain])
            if first.form == "click"
            else None
        ),
        shed_share=sum(m.result.shed for m in store) / answered if answered else 0.0,
        errors=sum(m.result.other + m.result.socket_errors for m in store),
        store_p99_ms=statistics.median(m.result.p99_ms for m in store),
        bare_p99_ms=statistics.median(m.result.p99_ms for m in bare),
        store_cpu_us=cpu_us_per_answer(store),
        bare_cpu_us=cpu_us_per_answer(bare),
    )


def rows_summarize(measurements: Iterable[Measurement]) -> list[Row]:
    """Return a row per store (page, form, connections), in page, concurrency, form order.

    Each round must hold one bare and one store plain run per (page, connections).
    """
    cells: dict[tuple[str, str, str, int], list[Measurement]] = {}
    for m in measurements:
        cells.setdefault((m.side, m.page, m.form, m.connections), []).append(m)
    rows = []
    for side, page, form, connections in sorted(
        cells, key=lambda key: (PAGES.index(key[1]), key[3], key[2] != "plain")
    ):
        if side != "store":
            continue
        rows.append(
            _row(
                _by_round(cells[side, page, form, connections]),
                _by_round(cells["bare", page, "plain", connections]),
                _by_round(cells["store", page, "plain", connections]),
            )
        )
    return rows


def targets_missed(rows: Iterable[Row]) -> list[str]:
    """Return one line per missed target; an empty list is a pass.

    Every store cell must shed nothing and err nowhere; plain pages must reach their
    ratio to bare Django; click ids must cost at most 10% of the plain page's rate.
    """
    missed = []
    for row in rows:
        cell = f"{row.page} ({row.form}) at {row.connections} connections"
        if row.shed_share:
            missed.append(f"{cell}: {row.shed_share:.1%} shed, target 0%")
        if row.errors:
            missed.append(f"{cell}: {row.errors} errors (non-2xx not shed, or socket errors)")
        target = BARE_RATIO_TARGETS[row.page]
        if row.form == "plain" and (row.ratio is None or row.ratio < target):
            missed.append(f"{cell}: store/bare {_figure(row.ratio, 3)}, target >= {target}")
        if row.form == "click" and (
            row.click_ratio is None or row.click_ratio < CLICK_RATIO_TARGET
        ):
            ratio = _figure(row.click_ratio, 3)
            missed.append(f"{cell}: click id/plain {ratio}, target >= {CLICK_RATIO_TARGET}")
    return missed


def _figure(ratio: float | None, digits: int = 2) -> str:
    # The verdict shows three digits: 0.597 must not read as "0.60 < 0.6".
    return "n/a" if ratio is None else f"{ratio:.{digits}f}"


TABLE_HEADER = (
    f"{'page':<9}{'form':<6}{'conns':>6}{'store/s':>9}{'bare/s':>9}{'ratio':>7}"
    f"{'click':>7}{'shed':>7}{'errors':>7}{'p99 ms store/bare':>19}{'CPU us/req store/bare':>23}"
)


def table_format(rows: Iterable[Row]) -> str:
    """Return the rows as a fixed-width text table, one line per row under a header."""
    lines = [TABLE_HEADER, "-" * len(TABLE_HEADER)]
    for row in rows:
        click = _figure(row.click_ratio) if row.form == "click" else ""
        p99 = f"{row.store_p99_ms:.1f} / {row.bare_p99_ms:.1f}"
        cpu = f"{row.store_cpu_us:.0f} / {row.bare_cpu_us:.0f}"
        lines.append(
            f"{row.page:<9}{row.form:<6}{row.connections:>6}{row.store_good_per_s:>9,.0f}"
            f"{row.bare_good_per_s:>9,.0f}{_figure(row.ratio):>7}{click:>7}"
            f"{row.shed_share:>7.1%}{row.errors:>7}{p99:>19}{cpu:>23}"
        )
    return "\n".join(lines)
