"""Performance gates: turn a run's results into a verdict a pipeline can act on.

Gates live in `loadtests/gates.toml`, versioned with the code they judge: `[defaults]`
apply to every scenario, `[scenario.<name>]` overrides them key by key. Each gate is a
row with its measured value, its limit and pass/fail; a gate whose data is missing (no
/metrics, no route SLOs, an audit command that does not exist) is listed as skipped,
never as passed.

Latency is judged twice. The p95 gates are over admitted requests: how fast the store is
for the work it accepts. SLO attainment is over offered requests (admitted + shed): the
share answered successfully within the route's SLO, a shed request counting as a miss.
So shedding protects the p95 but cannot buy a pass: turning visitors away costs
attainment as surely as answering them slowly.

On top of the absolute limits, a run is compared with the scenario's stored baseline
(`loadtests/baselines/<scenario>.json`, written by `--record-baseline`): a p95 that grew
past the tolerance fails even when it is still under its absolute limit. A baseline file
keeps one entry per machine class (cores, memory, profile) with the calibration figure
measured when it was recorded: a run compares with its own class's entry, or, when only
other classes were recorded, with the nearest one's latencies scaled by the ratio of the
two calibrations, and says which it did. A latency figure means nothing without the
machine it was measured on.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadtests.results import RATE_COUNTERS, RunResults

GATES_FILE = Path(__file__).with_name("gates.toml")
BASELINES_DIR = Path(__file__).with_name("baselines")
PASS, FAIL, SKIP = "pass", "fail", "skipped"
# Every key a gates file may set. An unknown key (a typo, a gate since removed) is an
# error: a limit nobody reads would look like a gate and judge nothing.
GATE_KEYS = frozenset(
    {
        "min_requests",
        "error_budget",
        "checkout_completion_min",
        "baseline_tolerance",
        "baseline_slack_ms",
        "baseline_error_slack",
        "p95_ms",
        "p95_ratio",
        "rate_peak_ratio",
        "release_exposure_max_percent",
        "slo_attainment_min",
        "queries_per_request",
        "cache_hit_ratio_min",
        "tagged_page_hit_ratio_min",
        "deploy",
        "drift_found_min",
        "exceptions_open_max",
    }
)
# The store's metrics the deploy gates read (black box: names, not imports).
BREAKER_STATE = "peakstore_dependency_breaker_state"  # closed 0, half open 1, open 2
CACHE_EVENTS = "peakstore_cache_events_total"


@dataclass(frozen=True)
class GateResult:
    gate: str
    value: str
    limit: str
    status: str  # pass, fail or skipped
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AuditResult:
    name: str
    clean: bool | None  # None: the audit does not exist here (skipped)
    output: str = ""
    # Figures an audit reports for gates (reconcile_verify: drift injected and found,
    # exceptions left open), by name.
    figures: Mapping[str, float] | None = None


def gates_load(scenario: str, path: Path = GATES_FILE) -> dict[str, Any]:
    """The gates of one scenario: its section merged over the defaults."""
    document = tomllib.loads(path.read_text())
    if document.get("version") != 1:
        raise ValueError(f"{path}: unsupported gates version {document.get('version')!r}")
    sections = {"defaults": document.get("defaults", {})} | {
        f"scenario.{name}": section for name, section in document.get("scenario", {}).items()
    }
    for section_name, section in sections.items():
        if unknown := sorted(set(section) - GATE_KEYS):
            raise ValueError(f"{path}: [{section_name}] has unknown gates: {', '.join(unknown)}")
    merged = dict(document.get("defaults", {}))
    for key, value in document.get("scenario", {}).get(scenario, {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _row(gate: str, value: float, limit: float, ok: bool, fmt: str = "{:.0f}") -> GateResult:
    return GateResult(gate, fmt.format(value), fmt.format(limit), PASS if ok else FAIL)


def _percent(value: float) -> str:
    return f"{value:.2%}"


BASELINE_VERSION = 2


@dataclass(frozen=True)
class MachineClass:
    """What a run ran on: the class a baseline belongs to, and how fast the machine was.

    `calibration_rps` is bare Django's requests per second on this machine at the start
    of the run (measured by the runner): not part of the class, since it moves with the
    machine's load, but what makes one class's latencies comparable with another's.
    """

    cores: int
    memory_gib: int
    profile: str
    calibration_rps: float | None = None

    @property
    def key(self) -> str:
        return f"{self.cores}-cores-{self.memory_gib}-gib-{self.profile}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MachineClass:
        return cls(
            cores=int(data["cores"]),
            memory_gib=int(data["memory_gib"]),
            profile=str(data["profile"]),
            calibration_rps=data.get("calibration_rps"),
        )


def baseline_snapshot(results: RunResults) -> dict[str, Any]:
    """What a baseline keeps of a run: the figures later runs are compared with."""
    return {
        "journeys": {
            journey: {
                "p95_ms": results.overall(journey).p95_ms,
                "error_rate": results.overall(journey).error_rate,
            }
            for journey in results.journeys()
        },
        "shed_ratio": results.overall().shed_ratio,
        "checkout_completion": results.checkout().completion,
    }


def baseline_load(scenario: str, directory: Path = BASELINES_DIR) -> dict[str, Any] | None:
    """The scenario's baseline file: `{"version", "scenario", "classes": [entry, ...]}`,
    each entry a `baseline_snapshot` with the `machine` it was recorded on."""
    path = directory / f"{scenario}.json"
    if not path.exists():
        return None
    document = json.loads(path.read_text())
    if document.get("version") != BASELINE_VERSION:
        raise ValueError(f"{path}: unsupported baseline version {document.get('version')!r}")
    return dict(document)


def baseline_choose(document: Mapping[str, Any] | None, machine: MachineClass) -> dict | None:
    """The baseline entry this machine's run compares with, or None when none is usable.

    Its own class's entry when there is one, its latencies as recorded, or scaled up when
    this machine measured slower than it did then (a shared runner under other load; never
    scaled down: a quiet moment is no reason to tighten a recorded limit). Otherwise the
    entry of another class with a calibration figure, the same profile first, then the
    nearest calibration, its latencies to be multiplied by `latency_scale` (its
    calibration over ours: a machine half as fast is allowed twice the latency, one twice
    as fast half). The entry's `match` says which was chosen and why, for the report. An
    entry of another class without a calibration cannot be scaled, so it is not used (the
    gate is skipped, saying so).
    """
    if document is None:
        return None
    entries = document.get("classes", [])
    here = machine.calibration_rps
    for entry in entries:
        if MachineClass.from_dict(entry["machine"]).key != machine.key:
            continue
        then = entry["machine"].get("calibration_rps")
        if not then or not here or then <= here:
            return {**entry, "latency_scale": 1.0, "match": f"same machine class ({machine.key})"}
        return {
            **entry,
            "latency_scale": then / here,
            "match": f"same machine class ({machine.key}), measured slower now: latencies "
            f"x{then / here:.2f} (calibration {then:.0f} req/s then, {here:.0f} now)",
        }
    scalable = [e for e in entries if e["machine"].get("calibration_rps")]
    recorded = ", ".join(MachineClass.from_dict(e["machine"]).key for e in entries) or "none"
    if not scalable or not here:
        return {
            "match": f"no baseline for {machine.key} and none that can be scaled to it "
            f"(recorded: {recorded}); record one with --record-baseline"
        }
    entry = min(
        scalable,
        key=lambda e: (
            e["machine"]["profile"] != machine.profile,
            abs(e["machine"]["calibration_rps"] - here),
        ),
    )
    there = float(entry["machine"]["calibration_rps"])
    scale = there / here
    return {
        **entry,
        "latency_scale": scale,
        "match": f"baseline of {MachineClass.from_dict(entry['machine']).key} scaled to "
        f"{machine.key}: latencies x{scale:.2f} (calibration {there:.0f} req/s there, "
        f"{here:.0f} here)",
    }


def baseline_write(
    results: RunResults, machine: MachineClass, directory: Path = BASELINES_DIR
) -> Path:
    """Store this run as its machine class's entry of the scenario's baseline (replacing
    that class's previous entry, keeping the others)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{results.scenario}.json"
    document = baseline_load(results.scenario, directory) or {
        "version": BASELINE_VERSION,
        "scenario": results.scenario,
        "classes": [],
    }
    others = [
        entry
        for entry in document["classes"]
        if MachineClass.from_dict(entry["machine"]).key != machine.key
    ]
    entry = {"machine": machine.as_dict(), **baseline_snapshot(results)}
    document["classes"] = sorted(
        [*others, entry], key=lambda e: MachineClass.from_dict(e["machine"]).key
    )
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


def gates_evaluate(
    results: RunResults,
    gates: Mapping[str, Any],
    *,
    audits: list[AuditResult],
    baseline: Mapping[str, Any] | None,
) -> list[GateResult]:
    """Every gate of `gates` against `results`, audits and the baseline, in report order."""
    total = results.overall()
    minimum_requests = gates.get("min_requests", 1)
    return [
        GateResult(
            "requests made",
            f"{total.requests:,}",
            f">= {minimum_requests:,}",
            PASS if total.requests >= minimum_requests else FAIL,
        ),
        *_journey_gates(results, gates),
        *(
            _p95_ratio(results, journey, rule)
            for journey, rule in gates.get("p95_ratio", {}).items()
        ),
        *(
            _rate_peak_ratio(results, series, rule)
            for series, rule in gates.get("rate_peak_ratio", {}).items()
        ),
        *(
            _release_exposure(results, flag, float(limit))
            for flag, limit in gates.get("release_exposure_max_percent", {}).items()
        ),
        _checkout_completion(results, float(gates.get("checkout_completion_min", 0.995))),
        *_queries(results, gates.get("queries_per_request", {})),
        *_cache_hit_ratios(results, gates.get("cache_hit_ratio_min", {})),
        *_tagged_page_hits(results, gates.get("tagged_page_hit_ratio_min")),
        *(_deploy_gates(results, gates["deploy"]) if "deploy" in gates else ()),
        *(_audit(audit) for audit in audits),
        *_reconciliation(audits, gates),
        *_baseline_rows(results, gates, baseline),
    ]


def _journey_gates(results: RunResults, gates: Mapping[str, Any]) -> list[GateResult]:
    """Per journey: its p95 over admitted requests (when limited), its error rate, and its
    SLO attainment over offered requests (when a minimum is set)."""
    p95_limits: Mapping[str, float] = gates.get("p95_ms", {})
    error_budget = float(gates.get("error_budget", 0.01))
    attainment_min: Mapping[str, float] = gates.get("slo_attainment_min", {})
    rows: list[GateResult] = []
    for journey in results.journeys():
        figures = results.overall(journey)
        if journey in p95_limits:
            rows.append(
                _row(
                    f"{journey} p95 ms",
                    figures.p95_ms,
                    p95_limits[journey],
                    figures.p95_ms <= p95_limits[journey],
                )
            )
        rows.append(
            GateResult(
                f"{journey} error rate",
                _percent(figures.error_rate),
                f"<= {_percent(error_budget)}",
                PASS if figures.error_rate <= error_budget else FAIL,
                f"{figures.errors} errors of {figures.served} admitted",
            )
        )
        if journey in attainment_min:
            rows.append(_attainment(results, journey, float(attainment_min[journey])))
    return rows


def _checkout_completion(results: RunResults, minimum: float) -> GateResult:
    checkout = results.checkout()
    return GateResult(
        "checkout completion",
        _percent(checkout.completion),
        f">= {_percent(minimum)}",
        PASS if checkout.completion >= minimum else FAIL,
        f"{checkout.placed} placed, {checkout.failed} failed, "
        f"{checkout.refused} refused (sold out/declined), {checkout.shed} shed",
    )


def _audit(audit: AuditResult) -> GateResult:
    """An audit that does not exist here is skipped, never passed."""
    if audit.clean is None:
        return GateResult(f"audit {audit.name}", "not run", "clean", SKIP, audit.output)
    return GateResult(
        f"audit {audit.name}",
        "clean" if audit.clean else "violations",
        "clean",
        PASS if audit.clean else FAIL,
    )


def _reconciliation(audits: list[AuditResult], gates: Mapping[str, Any]) -> list[GateResult]:
    """Drift found after reconciling, and exceptions left open, from the audit's figures."""
    wanted = [key for key in ("drift_found_min", "exceptions_open_max") if key in gates]
    if not wanted:
        return []
    figures = next(
        (a.figures for a in audits if a.figures and a.figures.get("drift_injected")), None
    )
    if figures is None:
        return [
            GateResult(key, "no data", str(gates[key]), SKIP, "no drift injected") for key in wanted
        ]
    detail = (
        f"{figures['drift_injected']:.0f} injected, {figures['drift_found']:.0f} found, "
        f"{figures['repaired']:.0f} repaired, {figures['exceptions_open']:.0f} exceptions open"
    )
    rows = []
    if "drift_found_min" in gates:
        share = figures["drift_found"] / figures["drift_injected"]
        minimum = float(gates["drift_found_min"])
        rows.append(
            GateResult(
                "drift found by reconciliation",
                _percent(share),
                f">= {_percent(minimum)}",
                PASS if share >= minimum else FAIL,
                detail,
            )
        )
    if "exceptions_open_max" in gates:
        limit = int(gates["exceptions_open_max"])
        open_ = figures["exceptions_open"]
        rows.append(
            GateResult(
                "exceptions open after reconciliation",
                f"{open_:.0f}",
                f"<= {limit}",
                PASS if open_ <= limit else FAIL,
                detail,
            )
        )
    return rows


def _attainment(results: RunResults, journey: str, minimum: float) -> GateResult:
    gate = f"{journey} SLO attainment"
    measured = results.slo_attainment(journey)
    if measured is None:
        return GateResult(
            gate, "no data", f">= {_percent(minimum)}", SKIP, "no route SLOs (slos.json)"
        )
    slo = "/".join(f"{ms:.0f}" for ms in measured.slo_ms)
    return GateResult(
        gate,
        _percent(measured.ratio),
        f">= {_percent(minimum)}",
        PASS if measured.ratio >= minimum else FAIL,
        f"{measured.within:,} of {measured.offered:,} offered within SLO ({slo} ms); "
        f"missed: {measured.slow:,} slow, {measured.shed:,} shed, {measured.errors:,} errors",
    )


def _p95_ratio(results: RunResults, journey: str, rule: Mapping[str, Any]) -> GateResult:
    gate = f"{journey} p95 {rule['phase']} / {rule['over']}"
    during, before = (
        results.in_phase(rule["phase"], journey),
        results.in_phase(rule["over"], journey),
    )
    if not during or not before or not during.served or not before.served or not before.p95_ms:
        return GateResult(gate, "no data", f"<= {rule['max']}", SKIP)
    ratio = during.p95_ms / before.p95_ms
    return GateResult(
        gate,
        f"{ratio:.2f}",
        f"<= {rule['max']}",
        PASS if ratio <= rule["max"] else FAIL,
        f"{during.p95_ms:.0f} ms vs {before.p95_ms:.0f} ms",
    )


def _rate_peak_ratio(results: RunResults, series: str, rule: Mapping[str, Any]) -> GateResult:
    """The busiest scrape interval of a store counter in one phase, over its mean in
    another: a storm (every request recomputing after a release) is a peak, and a peak
    is what a phase's mean or p95 spreads thin."""
    gate = f"{series} peak {rule['phase']} / mean {rule['over']}"
    rates = results.metric_rates(RATE_COUNTERS[series]).values()
    points = [point for counter in rates for point in counter]
    during, before = results.phase_span(rule["phase"]), results.phase_span(rule["over"])
    if during is None or before is None:
        return GateResult(gate, "no data", f"<= {rule['max']}", SKIP, "no such phase")
    peak = max((v for t, v in points if during.start_s < t <= during.end_s), default=None)
    base = [v for t, v in points if before.start_s < t <= before.end_s]
    if peak is None or not base or not sum(base):
        return GateResult(gate, "no data", f"<= {rule['max']}", SKIP, "no /metrics scrapes")
    mean = sum(base) / len(base)
    ratio = peak / mean
    return GateResult(
        gate,
        f"{ratio:.1f}",
        f"<= {rule['max']}",
        PASS if ratio <= rule["max"] else FAIL,
        f"peak {peak:.1f}/s vs mean {mean:.1f}/s",
    )


def _release_exposure(results: RunResults, flag: str, limit: float) -> GateResult:
    """How far a release known to be bad got: the largest share of visitors its
    decisions in the run gave it. A gated rollout stops the release at its first step;
    one that moves on its schedule alone hands it to more and more visitors."""
    gate = f"{flag} peak exposure %"
    exposures = [
        decision["exposure_percent"][1]  # [before, after]: the share it gave
        for _, decision in results.releases
        if decision["flag"] == flag
    ]
    if not exposures:
        return GateResult(gate, "no data", f"<= {limit:g}", SKIP, "no release decisions")
    peak = max(exposures)
    return GateResult(
        gate,
        f"{peak:g}",
        f"<= {limit:g}",
        PASS if peak <= limit else FAIL,
        f"{len(exposures)} decisions",
    )


def _deploy_gates(results: RunResults, rule: Mapping[str, Any]) -> list[GateResult]:
    """A deploy during the run: every step done, the cache hit ratio back to its share of
    the minute before within the limit after the last step, no breaker opened, no cache
    error (a new version's entries must be clean misses)."""
    steps = [d for _, d in results.deploys]
    failed = [d["step"] for d in steps if not d["ok"]]
    rows = [
        GateResult(
            "deploy steps",
            f"{len(steps) - len(failed)} of {len(steps)} ok",
            "all ok, at least one",
            PASS if steps and not failed else FAIL,
            ", ".join(f"{d['step']} {d['finished_at'] - d['started_at']:.1f}s" for d in steps)
            or "no deploy ran (deploys.json)",
        )
    ]
    if steps:
        rows.append(_hit_ratio_recovery(results, rule))
    breaker_peak = max(
        (
            value
            for series in results.gauge_max(BREAKER_STATE, group_by="dependency").values()
            for _, value in series
        ),
        default=0.0,
    )
    rows.append(
        GateResult(
            "breakers opened",
            "yes" if breaker_peak >= 2 else "none",
            "none",
            PASS if breaker_peak < 2 else FAIL,
        )
    )
    errors = results.counter_growth(CACHE_EVENTS, group_by="event").get("error", 0.0)
    rows.append(_row("cache errors", errors, 0, errors == 0))
    return rows


def _hit_ratio_recovery(results: RunResults, rule: Mapping[str, Any]) -> GateResult:
    within = float(rule.get("hit_ratio_recovered_within_s", 60))
    share = float(rule.get("hit_ratio_recovered_share", 0.9))
    gate = f"cache hit ratio back to {share:.0%} of before within {within:.0f} s"
    started = min(t for t, _ in results.deploys)
    ended = max(t + d["finished_at"] - d["started_at"] for t, d in results.deploys)
    ratio = results.cache_hit_ratio()
    before = [r for t, r in ratio if started - 60 <= t < started]
    if not before:
        return GateResult(gate, "no data", f"<= {within:.0f} s", SKIP, "no /metrics before")
    target = share * sum(before) / len(before)
    back = next((t for t, r in ratio if t >= ended and r >= target), None)
    took = None if back is None else back - ended
    return GateResult(
        gate,
        "never" if took is None else f"{took:.0f} s",
        f"<= {within:.0f} s",
        PASS if took is not None and took <= within else FAIL,
        f"before {sum(before) / len(before):.1%}, target {target:.1%}, after the last step",
    )


def _queries(results: RunResults, budgets: Mapping[str, float]) -> list[GateResult]:
    measured = results.queries_per_request()
    rows = []
    for route, budget in sorted(budgets.items()):
        if route not in measured:
            rows.append(GateResult(f"queries/request {route}", "no data", f"<= {budget}", SKIP))
            continue
        value = measured[route]
        rows.append(
            GateResult(
                f"queries/request {route}",
                f"{value:.1f}",
                f"<= {budget}",
                PASS if value <= budget else FAIL,
            )
        )
    return rows


def _cache_hit_ratios(results: RunResults, minimums: Mapping[str, float]) -> list[GateResult]:
    """Per cache namespace: hits (stale served included) over lookups, over the run."""
    rows = []
    for namespace, minimum in sorted(minimums.items()):
        name = f"cache hit ratio {namespace}"
        value = results.cache_hit_share(namespace)
        if value is None:
            rows.append(GateResult(name, "no data", f">= {_percent(minimum)}", SKIP))
            continue
        rows.append(_row(name, value, minimum, value >= minimum, "{:.1%}"))
    return rows


def _tagged_page_hits(results: RunResults, minimum: float | None) -> list[GateResult]:
    """Campaign landings (URLs with parameters the page ignores) answered by the page
    cache: with click ids kept out of the key they share the plain pages' entries."""
    if minimum is None:
        return []
    name = "page cache hit ratio, tagged landings"
    value = results.tagged_page_hit_share()
    if value is None:
        return [GateResult(name, "no data", f">= {_percent(minimum)}", SKIP)]
    return [_row(name, value, minimum, value >= minimum, "{:.1%}")]


def _baseline_rows(
    results: RunResults, gates: Mapping[str, Any], baseline: Mapping[str, Any] | None
) -> list[GateResult]:
    """The run against its baseline entry (see `baseline_choose`), its latencies scaled
    when the entry is another machine class's."""
    if baseline is None:
        return [GateResult("baseline", "none recorded", "-", SKIP, "--record-baseline")]
    if "journeys" not in baseline:
        return [GateResult("baseline", "none for this machine", "-", SKIP, baseline["match"])]
    tolerance = float(gates.get("baseline_tolerance", 0.5))
    slack_ms = float(gates.get("baseline_slack_ms", 20))
    scale = float(baseline.get("latency_scale", 1.0))
    scaled = f" x{scale:.2f} (calibration)" if scale != 1.0 else ""
    rows = []
    for journey, before in sorted(baseline["journeys"].items()):
        if journey not in results.journeys():
            continue
        now = results.overall(journey)
        limit = before["p95_ms"] * scale * (1 + tolerance) + slack_ms
        rows.append(
            GateResult(
                f"baseline {journey} p95 ms",
                f"{now.p95_ms:.0f}",
                f"<= {limit:.0f}",
                PASS if now.p95_ms <= limit else FAIL,
                f"baseline {before['p95_ms']:.0f} ms{scaled}, +{tolerance:.0%} + {slack_ms:.0f} ms",
            )
        )
        error_limit = before["error_rate"] + float(gates.get("baseline_error_slack", 0.005))
        rows.append(
            GateResult(
                f"baseline {journey} error rate",
                _percent(now.error_rate),
                f"<= {_percent(error_limit)}",
                PASS if now.error_rate <= error_limit else FAIL,
            )
        )
    if "checkout_completion" in baseline:
        limit = baseline["checkout_completion"] - float(gates.get("baseline_error_slack", 0.005))
        completion = results.checkout().completion
        rows.append(
            GateResult(
                "baseline checkout completion",
                _percent(completion),
                f">= {_percent(limit)}",
                PASS if completion >= limit else FAIL,
            )
        )
    return rows


def verdict(rows: list[GateResult]) -> bool:
    """True when no gate failed (skipped gates do not fail a run, and are reported)."""
    return not any(row.failed for row in rows)
