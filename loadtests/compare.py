"""Did a change make the store slower? Two runs of one scenario, compared figure by figure.

A gate-relevant figure (each journey's p95 and error rate, its SLO attainment, checkout
completion) is a regression when the head run's is worse than the base run's beyond the
noise band, and the band is measured, not assumed: every run is cut into `ROUNDS` equal
windows (`run_rounds`, kept in `report.json`), the figure is taken in each window, and
window i of the head is paired with window i of the base (the same moment of the same
load shape: the same phase, the same users). The question is then whether the paired
differences lean one way more than chance allows. Under "no change" each difference is
as likely to be positive as negative, so flipping signs at random gives the distribution
of the mean difference that noise alone produces (an exact sign-flip permutation test
over every 2^n flip); the band is its upper `1 - alpha` quantile, and a figure whose
mean shift lies past it (p <= alpha) regressed. `alpha` is the family's 5% shared among
the figures judged (Bonferroni), so an unchanged store flags nothing 95% of the time
however many journeys it has.

Windows see the noise inside a run, not a machine that got faster or slower between the
runs: that drift is bounded by the two runs' calibration figures (bare Django's req/s,
measured at each run's start), and a latency band widens by the share they differ. Runs
compared should be a pair on one machine, base and head back to back (interleaved pairs
when repeated), so drift lands on both.

Plain Python over `report.json` documents: no Django, no files but the ones named.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadtests.outcomes import ERROR, OK, SHED
from loadtests.results import ORDER_REQUEST, Event, RunResults, attainment, figures

ROUNDS = 20
FAMILY_ALPHA = 0.05
# Past this many pairs the sign flips are sampled (seeded) instead of enumerated.
EXACT_PAIRS = 16
SAMPLED_FLIPS = 10_000
HIGHER, LOWER = "higher", "lower"  # which way a figure gets worse
REGRESSION, IMPROVED, NOISE, TOO_FEW = "regression", "improved", "within noise", "too few rounds"


# --- rounds: a figure per window of one run ------------------------------------------
def _p95(events: Sequence[Event], journey: str) -> float | None:
    chosen = [e for e in events if e.journey == journey and e.outcome != SHED]
    return figures(chosen, 1.0).p95_ms if chosen else None


def _request_p95(events: Sequence[Event], name: str) -> float | None:
    chosen = [e for e in events if e.name == name and e.outcome != SHED]
    return figures(chosen, 1.0).p95_ms if chosen else None


def _error_rate(events: Sequence[Event], journey: str) -> float | None:
    chosen = [e for e in events if e.journey == journey and e.outcome != SHED]
    return sum(e.outcome == ERROR for e in chosen) / len(chosen) if chosen else None


def _completion(events: Sequence[Event]) -> float | None:
    orders = [e for e in events if ORDER_REQUEST.search(e.name)]
    placed, failed = sum(e.outcome == OK for e in orders), sum(e.outcome == ERROR for e in orders)
    return placed / (placed + failed) if placed + failed else None


def _figure_specs(results: RunResults) -> dict[str, tuple[str, str, Callable]]:
    """Every gate-relevant figure: name -> (unit, which way is worse, value of events).

    Journey figures are named after the journey (`buy p95 ms`), request figures after the
    request name, which starts with its journey in brackets (`[buy] /api/v1/orders/ p95 ms`).
    """
    specs: dict[str, tuple[str, str, Callable]] = {}
    for journey in results.journeys():
        specs[f"{journey} p95 ms"] = ("ms", HIGHER, lambda ev, j=journey: _p95(ev, j))
        specs[f"{journey} error rate"] = (
            "share",
            HIGHER,
            lambda ev, j=journey: _error_rate(ev, j),
        )
        if results.slo_attainment(journey) is not None:
            specs[f"{journey} SLO attainment"] = (
                "share",
                LOWER,
                lambda ev, j=journey: _attainment(ev, j, results.slos),
            )
    specs["checkout completion"] = ("share", LOWER, _completion)
    # Each request's p95 too: the SLO attainment gates judge every request against its
    # route's SLO, and a route slowed inside a journey can hide under the journey's p95.
    for name in sorted({event.name for event in results.events}):
        specs[f"{name} p95 ms"] = ("ms", HIGHER, lambda ev, n=name: _request_p95(ev, n))
    return specs


def _attainment(events: Sequence[Event], journey: str, slos: Mapping[str, float]) -> float | None:
    chosen = [e for e in events if e.journey == journey]
    if not chosen or any(e.name not in slos for e in chosen):
        return None
    return attainment(chosen, slos).ratio


def run_rounds(results: RunResults, count: int = ROUNDS) -> dict[str, Any]:
    """Each gate-relevant figure over the whole run and in each of `count` equal windows
    (None where a window has no data): what `compare` pairs and estimates noise from."""
    window_s = results.duration_s / count
    windows: list[list[Event]] = [[] for _ in range(count)]
    for event in results.events:
        index = int((event.t - results.started_at) // window_s)
        windows[min(max(index, 0), count - 1)].append(event)
    return {
        "count": count,
        "window_s": round(window_s, 2),
        "figures": {
            name: {
                "unit": unit,
                "worse": worse,
                "run": value(results.events),
                "values": [value(window) for window in windows],
            }
            for name, (unit, worse, value) in _figure_specs(results).items()
        },
    }


# --- the test: paired windows, sign flips --------------------------------------------
def _flipped_means(differences: Sequence[float]) -> list[float]:
    """The mean difference under every sign assignment (or a seeded sample of them), sorted.

    Flipping a subset's signs subtracts twice its sum from the total.
    """
    n, total = len(differences), sum(differences)
    if n <= EXACT_PAIRS:
        flips: Any = range(2**n)
    else:
        rng = random.Random(n)
        flips = (rng.getrandbits(n) for _ in range(SAMPLED_FLIPS))
    return sorted(
        (total - 2 * sum(d for i, d in enumerate(differences) if flip >> i & 1)) / n
        for flip in flips
    )


@dataclass(frozen=True)
class FigureComparison:
    name: str
    unit: str
    worse: str
    base: float | None  # over the whole run
    head: float | None
    pairs: int  # windows with data in both runs
    shift: float  # mean paired difference, positive = worse
    # The noise band: the shift noise alone stays under 1 - alpha of the time (None: too
    # few rounds to tell).
    band: float | None
    p_value: float
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def figure_compare(
    name: str,
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    *,
    alpha: float,
    drift: float = 0.0,
) -> FigureComparison:
    """Judge one figure's rounds (see the module docstring). `drift` is the shift the
    machine's change of speed between the runs predicts (in the figure's unit, positive
    when the head's machine was slower): it widens the band on that side only."""
    worse = base["worse"]
    sign = 1.0 if worse == HIGHER else -1.0
    differences = [
        sign * (h - b)
        for b, h in zip(base["values"], head["values"], strict=False)
        if b is not None and h is not None
    ]
    pairs = len(differences)
    common = {"name": name, "unit": base["unit"], "worse": worse, "pairs": pairs}
    common |= {"base": base.get("run"), "head": head.get("run")}
    if pairs == 0 or 0.5**pairs > alpha:
        # Even n same-signed differences would be chance more often than alpha allows.
        shift = statistics.fmean(differences) if differences else 0.0
        return FigureComparison(**common, shift=shift, band=None, p_value=1.0, verdict=TOO_FEW)
    shift = statistics.fmean(differences)
    if not any(differences):  # identical in every window: nothing to test
        return FigureComparison(**common, shift=0.0, band=0.0, p_value=1.0, verdict=NOISE)
    flipped = _flipped_means(differences)
    p_value = sum(m >= shift - 1e-12 for m in flipped) / len(flipped)
    noise = flipped[max(0, math.ceil((1 - alpha) * len(flipped)) - 1)]
    band = noise + max(0.0, drift)
    if p_value <= alpha and shift > band:
        verdict = REGRESSION
    elif sum(m <= shift + 1e-12 for m in flipped) / len(flipped) <= alpha and -shift > noise + max(
        0.0, -drift
    ):
        verdict = IMPROVED
    else:
        verdict = NOISE
    return FigureComparison(**common, shift=shift, band=band, p_value=p_value, verdict=verdict)


@dataclass(frozen=True)
class Comparison:
    scenario: str
    base: str  # where each report came from
    head: str
    figures: list[FigureComparison]
    notes: list[str]
    alpha: float

    @property
    def regressions(self) -> list[FigureComparison]:
        return [f for f in self.figures if f.verdict == REGRESSION]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "base": self.base,
            "head": self.head,
            "regressed": self.regressed,
            "alpha_per_figure": self.alpha,
            "notes": self.notes,
            "figures": [f.as_dict() for f in self.figures],
        }


class NotComparable(ValueError):
    """The two reports cannot be paired: another scenario, shape, or no rounds."""


def _calibration(document: Mapping[str, Any]) -> float | None:
    machine = document.get("meta", {}).get("machine") or {}
    return machine.get("calibration_rps")


def reports_compare(
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    *,
    base_name: str = "base",
    head_name: str = "head",
    family_alpha: float = FAMILY_ALPHA,
) -> Comparison:
    """Compare two `report.json` documents of the same scenario and shape, figure by figure."""
    if base["scenario"] != head["scenario"]:
        raise NotComparable(f"scenario {base['scenario']!r} against {head['scenario']!r}")
    if "rounds" not in base or "rounds" not in head:
        raise NotComparable("a report without rounds (written before compare existed): rerun it")
    # Window i must be the same moment of the shape in both runs.
    lengths = (base["duration_s"], head["duration_s"])
    if abs(lengths[0] - lengths[1]) > 0.1 * lengths[0] + 2:
        raise NotComparable(f"runs of {lengths[0]} s and {lengths[1]} s cannot be paired")
    if base["rounds"]["count"] != head["rounds"]["count"]:
        raise NotComparable("the runs were cut into different numbers of rounds")
    # A scenario sized by calibration (Scenario.sized_for) may give two runs two peaks.
    peaks = (base.get("meta", {}).get("users"), head.get("meta", {}).get("users"))
    if None not in peaks and peaks[0] != peaks[1]:
        raise NotComparable(
            f"peaks of {peaks[0]} and {peaks[1]} users cannot be paired: run both with "
            f"--users {peaks[0]}"
        )
    base_figures, head_figures = base["rounds"]["figures"], head["rounds"]["figures"]
    names = [name for name in base_figures if name in head_figures]
    alpha = family_alpha / max(1, len(names))
    notes = [
        f"{base['rounds']['count']} rounds of {base['rounds']['window_s']:g} s per run, paired "
        f"window by window; a regression is a figure worse than the base with p <= "
        f"{alpha:.4f} ({family_alpha:.0%} shared by {len(names)} figures)."
    ]
    base_cal, head_cal = _calibration(base), _calibration(head)
    # Latency goes as the inverse of the machine's speed: a head machine 20% slower
    # predicts latencies 25% higher, which no change of the store's caused.
    drift_share = 0.0
    if base_cal and head_cal:
        drift_share = base_cal / head_cal - 1
        if drift_share > 0:
            drift_note = (
                f"the head's machine was slower, which predicts latencies {drift_share:.1%} "
                "higher: latency bands widen by that much"
            )
        else:
            drift_note = "the head's machine was not slower: no allowance for drift"
        notes.append(
            f"Calibration: {base_cal:.0f} req/s (base), {head_cal:.0f} req/s (head); {drift_note}."
        )
    else:
        notes.append(
            "No calibration figure in one of the runs: drift between them is not bounded, "
            "so compare a pair run back to back on one machine."
        )
    compared = []
    for name in names:
        before = base_figures[name]
        drift = drift_share * (before.get("run") or 0.0) if before["unit"] == "ms" else 0.0
        compared.append(figure_compare(name, before, head_figures[name], alpha=alpha, drift=drift))
    missing = sorted(set(base_figures) ^ set(head_figures))
    if missing:
        notes.append(f"Only in one run, not compared: {', '.join(missing)}.")
    return Comparison(base["scenario"], base_name, head_name, compared, notes, alpha)


# --- reading and writing -------------------------------------------------------------
def report_document_read(path: Path) -> dict[str, Any]:
    """A `report.json`, given itself or the report folder holding it."""
    file = path / "report.json" if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"no report.json at {path}")
    document: dict[str, Any] = json.loads(file.read_text())
    return document


def _value(figure: FigureComparison, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if figure.unit == "ms" else f"{value:.2%}"


def _delta(figure: FigureComparison, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f} ms" if figure.unit == "ms" else f"{value * 100:+.2f} pts"


def comparison_markdown(comparison: Comparison) -> str:
    """The side-by-side table and the verdict, short enough for a pull-request comment."""
    verdict = "REGRESSION" if comparison.regressed else "no regression"
    lines = [
        f"## Load test `{comparison.scenario}` against the base: {verdict}",
        "",
        f"Base `{comparison.base}`, head `{comparison.head}`.",
        "",
        "| figure | base | head | shift (worse +) | noise band | p | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    quiet = 0
    for f in comparison.figures:
        if f.name.startswith("[") and f.verdict not in (REGRESSION, IMPROVED):
            quiet += 1  # a request's figure: listed when it moved, counted otherwise
            continue
        band = _delta(f, f.band).lstrip("+")
        mark = "**regression**" if f.verdict == REGRESSION else f.verdict
        lines.append(
            f"| {f.name} | {_value(f, f.base)} | {_value(f, f.head)} | {_delta(f, f.shift)} "
            f"| {band} | {f.p_value:.4f} | {mark} |"
        )
    if quiet:
        lines += [
            "",
            f"{quiet} request p95 figures within noise (or too few rounds): compare.json.",
        ]
    lines += ["", *comparison.notes]
    return "\n".join(lines) + "\n"


def comparison_write(comparison: Comparison, *, out_dir: Path) -> dict[str, Path]:
    """Write compare.md and compare.json into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "compare.md", "json": out_dir / "compare.json"}
    paths["markdown"].write_text(comparison_markdown(comparison))
    paths["json"].write_text(json.dumps(comparison.as_dict(), indent=2))
    return paths
