"""The failure-mode lab's runs: for each mode, the scenario that shows it and how to judge it.

`python manage.py lab run MODE` (`make lab MODE=...`, `devstack/labrun.py`) boots one
stack with the lab enabled, runs the mode's scenario with the mode on, then the same
scenario with the same seed with it off, and writes one comparison report. A mode is
demonstrated when each of its deciding gates fails with the mode on and passes with it
off. The switches themselves, and what each naive path does, are `toolkit.lab.MODES`;
this table says how to see each one. It covers every mode, so a mode is runnable as soon
as its owner ships its naive path.

Plain data, no Django: the runner imports it, and so do tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodePath:
    """Where a path lives: a repository file and the function (or class) in it."""

    path: str
    symbol: str

    def __str__(self) -> str:
        return f"{self.path}::{self.symbol}"


@dataclass(frozen=True)
class LabRun:
    mode: str
    scenario: str  # loadtests/scenarios.py
    # GateResult names (`loadtests/gates.py`) that must fail with the mode on and pass off.
    deciding_gates: tuple[str, ...]
    # The report's series (`loadtests.report.SERIES_UNITS`) that shows the mode itself.
    signal: str
    naive: tuple[CodePath, ...]
    good: tuple[CodePath, ...]
    why: str  # what happens and why, for the report: a few sentences
    # manage.py commands (with arguments) run once before both runs, e.g. extra seed data.
    prepare: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    # ... and at the start of each run, once its mode is set (e.g. start a rollout).
    before_each: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    # The settings profiles (`storefront/settings/`) on which the mode can do its damage,
    # and why a profile left out cannot.
    profiles: tuple[str, ...] = ("embedded", "services")
    profiles_why: str = ""
    # Whether the damage stays in the store's data after the mode is off (an oversold
    # stock row does; a stale cache entry is retired when each run starts). Such a mode
    # runs with it off first, so the good path is judged on a store the naive path has
    # not damaged yet.
    damage_persists: bool = False

    @property
    def order(self) -> tuple[str, str]:
        """The runs' states in the order they run."""
        return ("off", "on") if self.damage_persists else ("on", "off")


LAB_RUNS: dict[str, LabRun] = {
    run.mode: run
    for run in (
        LabRun(
            mode="n-plus-one",
            scenario="lab-catalog-feed",
            deciding_gates=("queries/request api:product-list",),
            signal="queries/request",
            naive=(
                CodePath("catalog/selectors.py", "_card_queryset"),
                CodePath("catalog/selectors.py", "_card_image_url"),
            ),
            good=(CodePath("catalog/selectors.py", "_card_queryset"),),
            why=(
                "The product API and listing pages build their cards from one queryset. "
                "The good path declares `select_related('brand')` and prefetches variants, "
                "so a page of cards costs a fixed number of queries. The naive path declares "
                "nothing, and building each card touches its brand, its gallery and its "
                "variants: three queries per card, 72 more for a page of 24. Pages the page "
                "cache answers never notice; the catalog feed pages through the API, which "
                "builds its listing every time, so queries per request climb on "
                "`api:product-list`, the repeated-statement counter and /ops/ name the "
                "statements, and nplusone flags the lazy loads in tests."
            ),
        ),
        LabRun(
            mode="click-id-busting",
            scenario="lab-campaign",
            deciding_gates=("page cache hit ratio, tagged landings",),
            signal="page cache misses/s",
            naive=(CodePath("toolkit/cache/http.py", "PageCachePolicy.key"),),
            good=(
                CodePath("toolkit/cache/http.py", "PageCachePolicy.key"),
                CodePath("toolkit/query.py", "QuerySpec.clean_request"),
            ),
            why=(
                "Campaign visitors land with `utm_*` tags and a click id unique to their "
                "click. The good key is built from the page's declared parameters only, so "
                "every landing shares the plain page's entry. The naive key takes the query "
                "as sent: every landing is a URL never seen before, a page-cache miss and a "
                "full render, and its entry is never read again. The page cache's hit ratio "
                "falls during the spike and the renders cost queries and latency."
            ),
        ),
        LabRun(
            mode="cold-release",
            scenario="lab-release",
            deciding_gates=(
                "long-lived cache recomputes/s peak after-release / mean before-release",
            ),
            signal="long-lived cache recomputes/s",
            naive=(
                CodePath("storefront/management/commands/post_deploy.py", "Command.handle"),
                CodePath("toolkit/cache/owned.py", "OwnedCache._lock"),
            ),
            good=(
                CodePath("storefront/management/commands/post_deploy.py", "Command.handle"),
                CodePath("toolkit/cache/owned.py", "OwnedCache.fetch"),
            ),
            why=(
                "Mid-run a release is deployed and its post-deploy hook runs. The good hook "
                "keeps the caches: their keys are versioned by their owners' writes, so a "
                "release that changes no data has nothing to retire, and a miss is "
                "recomputed by one request while the others wait (single flight). The naive "
                "hook clears every cache 'to be safe', and without single flight every "
                "request that misses recomputes: a storm of recomputes and statements, p95 "
                "up after the release, the hit ratio down until the caches refill."
            ),
        ),
        LabRun(
            mode="monitoring-blind",
            scenario="lab-rollout",
            deciding_gates=("recommendations-v2 peak exposure %",),
            signal="p95 ms",
            naive=(CodePath("releases/gates.py", "_on_schedule"),),
            good=(
                CodePath("releases/gates.py", "step_decide"),
                CodePath("releases/gates.py", "interval_judge"),
            ),
            why=(
                "Each run starts a rollout of `recommendations-v2`, a release that makes "
                "the product page slower. With gates on, every interval judges the canary "
                "against its criteria and against control: it fails them, so the rollout "
                "never leaves its first step (5%) and is stopped after three failed "
                "intervals. Blind, the rollout moves on its schedule alone: 25% then 50% of "
                "visitors get the slow page. Browse p95 barely moves, since the product "
                "page is one page of several: in production only the funnel would notice, "
                "late. The deciding gate is the release's peak exposure."
            ),
            # From the first step in each run: stop what the previous run left (refused
            # when nothing runs), then start. The runner's instructor holds the authority.
            before_each=(
                ("rollout", "stop", "recommendations-v2", "--actor", "lab-instructor"),
                ("rollout", "start", "recommendations-v2", "--actor", "lab-instructor"),
            ),
        ),
        # The modes below are built in their owners' apps; their runs use these scenarios.
        LabRun(
            mode="cache-drift",
            scenario="lab-backoffice",
            deciding_gates=("audit cache_audit",),
            signal="cache hit ratio",
            naive=(CodePath("pricing/services.py", "_prices_written_naive"),),
            good=(CodePath("pricing/services.py", "prices_import"),),
            why=(
                "Back-office bulk imports of prices and stock run during browsing. The good "
                "import bumps its owner's cache keys on commit; the naive one skips the "
                "invalidation, so pages keep showing old prices and the cache audit, run at "
                "the end, finds stale entries."
            ),
        ),
        LabRun(
            mode="search-unbounded",
            scenario="lab-search",
            deciding_gates=("search SLO attainment",),
            signal="p95 ms",
            naive=(CodePath("search/selectors.py", "_search_unbounded_naive"),),
            good=(CodePath("search/selectors.py", "search_documents"),),
            why=(
                "A search-heavy load on a catalog that outgrew its search (the run grows "
                "the store to 50,000 products first): shoppers on the search page, and a "
                "shop app's search and category screens scrolling through the search API, "
                "which answers every request itself. The good search ranks a bounded pool "
                "from the read model, caches facets and pages by keyset; the naive one "
                "ranks and counts every match, re-runs the full match for each facet on "
                "every page and pages with OFFSET: several times the work per request, "
                "growing with the catalog. The web workers saturate, searches queue, and "
                "the share answered within the search SLO falls (a request admission "
                "control sheds is a miss too)."
            ),
            prepare=(("seed_store", "--grow-to", "50000"),),
        ),
        LabRun(
            mode="promotions-naive",
            scenario="lab-checkout",
            deciding_gates=("buy p95 ms",),
            signal="p95 ms",
            naive=(CodePath("pricing/services.py", "_promotions_scan_naive"),),
            good=(CodePath("pricing/engine.py", "price_cart"),),
            why=(
                "Checkout-heavy traffic with many promotions active. The good engine looks "
                "up the promotions indexed by each line's targets and stops at its bound; "
                "the naive one evaluates every promotion against every line, so pricing "
                "time per cart and checkout p95 grow with the number of promotions."
            ),
            prepare=(("seed_promotions", "--count", "10000"),),
        ),
        LabRun(
            mode="integrations-blocking",
            scenario="lab-outage",
            deciding_gates=("browse p95 outage / spike",),
            signal="upstream calls/s",
            naive=(CodePath("integrations/fanout.py", "_budget_ignored_naive"),),
            good=(CodePath("integrations/upstream.py", "upstream_call"),),
            why=(
                "Optional services hang during a partial outage. The good page calls them "
                "under one policy (timeouts, breakers, a fan-out budget) and renders "
                "without them; the naive page calls them in sequence with no timeout, so "
                "product-page p95 follows the slowest dependency."
            ),
        ),
        LabRun(
            mode="oversell",
            scenario="lab-flash-sale",
            deciding_gates=("audit audit_orders",),
            signal="errors/s",
            naive=(CodePath("inventory/services.py", "_unlocked_rows_naive"),),
            good=(CodePath("inventory/services.py", "stock_allocate"),),
            why=(
                "A flash sale: a crowd buys one hot SKU at once. The good allocation locks "
                "the stock rows and orders are idempotent; the naive one reads stock, "
                "checks it, then decrements without a lock and without idempotency, so two "
                "buyers take the last unit and retries charge twice: audit_orders and the "
                "stock ledger find the oversold units."
            ),
            damage_persists=True,
            profiles=("services",),
            profiles_why=(
                "on SQLite every write transaction takes the database's one write lock at "
                "BEGIN (IMMEDIATE), so checkouts run one at a time and the naive path "
                "cannot race; run it on PostgreSQL, the services profile "
                "(docs/workshop/01-oversell.md gives the command)"
            ),
        ),
    )
}


def lab_run_get(mode: str) -> LabRun:
    try:
        return LAB_RUNS[mode]
    except KeyError:
        raise KeyError(f"no lab run for {mode!r}; known: {', '.join(LAB_RUNS)}") from None


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    on: str  # the gate's status with the mode on: pass, fail, skipped, or missing
    off: str

    @property
    def demonstrated(self) -> bool:
        return self.on == "fail" and self.off == "pass"


def deciding_verdicts(
    run: LabRun, *, on_gates: list[dict], off_gates: list[dict]
) -> list[GateVerdict]:
    """Each deciding gate's status in both runs (`report.json` gate rows)."""
    on = {row["gate"]: row["status"] for row in on_gates}
    off = {row["gate"]: row["status"] for row in off_gates}
    return [
        GateVerdict(gate, on.get(gate, "missing"), off.get(gate, "missing"))
        for gate in run.deciding_gates
    ]
