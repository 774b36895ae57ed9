"""Peakstore's Locust entry point: `locust -f loadtests/locustfile.py`.

Run it through `manage.py loadtest` (or `demo`), which boots the stack, writes the
catalog snapshot the users pick from, sets the environment below and reads the results.
By hand (or across machines, see `loadtests/README.md`) set at least
PEAKSTORE_CATALOG_SNAPSHOT; the shape then defaults to `steady` with Locust's own
`--users` and `--run-time`.

| variable | meaning |
|---|---|
| PEAKSTORE_CATALOG_SNAPSHOT | the catalog snapshot users pick slugs and SKUs from |
| PEAKSTORE_LOAD_SHAPE, _USERS, _DURATION | the shape (`shapes.py`), its peak, its length |
| PEAKSTORE_LOAD_MAX_REQUESTS | stop the whole run after this many requests |
| PEAKSTORE_LOAD_RESULTS_DIR | where the event log and phases go (`loadtests/recorder.py`) |
| INTEGRATIONS_UPSTREAM_URL | the simulator whose fault presets the shape switches |
| PEAKSTORE_BACKOFFICE_TOKEN | the back-office writers' token (and the flash sale's restock) |
| PEAKSTORE_LOAD_SEED | seeds every user's choices: two runs ask for the same pages |
"""

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import gevent
import httpx
from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import WorkerRunner

from loadtests.recorder import RESULTS_ENV, recorder_install
from loadtests.shapes import SHAPE_ENV, LoadPlan, Phase, plan_for
from loadtests.users import (
    BACKOFFICE_TOKEN_ENV,
    ApiSearchUser,
    BackOfficeUser,
    BrowseUser,
    BuyerUser,
    CartHoarderBot,
    CartUser,
    CatalogApiUser,
    FlashSaleUser,
    SearchUser,
    catalog,
)

__all__ = [
    "ApiSearchUser",
    "BackOfficeUser",
    "BrowseUser",
    "BuyerUser",
    "CartHoarderBot",
    "CartUser",
    "CatalogApiUser",
    "FlashSaleUser",
    "ScenarioShape",
    "SearchUser",
]

MAX_REQUESTS_ENV = "PEAKSTORE_LOAD_MAX_REQUESTS"
USERS_ENV, DURATION_ENV = "PEAKSTORE_LOAD_USERS", "PEAKSTORE_LOAD_DURATION"
UPSTREAM_ENV = "INTEGRATIONS_UPSTREAM_URL"  # the store's name for it too
PHASES_FILE = "phases.json"
USER_CLASSES = {cls.__name__: cls for cls in (
    ApiSearchUser, BackOfficeUser, BrowseUser, BuyerUser, CartHoarderBot, CartUser, CatalogApiUser,
    FlashSaleUser, SearchUser,
)}  # fmt: skip
# The store's checkout, whose manage.py a release's post-deploy hook runs.
STORE_DIR = Path(__file__).resolve().parents[1]
logger = logging.getLogger(__name__)
_recorder = None


@events.init.add_listener
def on_init(environment: Environment, **_: object) -> None:
    global _recorder
    _recorder = recorder_install(environment)
    if not isinstance(environment.runner, WorkerRunner):
        _request_budget_install(environment)


def _request_budget_install(environment: Environment) -> None:
    """Bound a run by count as well as by time: quit once the budget of requests is spent.

    Checked where the stats of every process meet (the master, or a lone local runner),
    so the budget is for the whole run however many `--processes` or workers share it.
    """
    budget = int(os.environ.get(MAX_REQUESTS_ENV) or 0)
    if budget <= 0:
        return

    def watch() -> None:
        while True:
            gevent.sleep(1.0)
            runner = environment.runner
            if runner is not None and runner.stats.total.num_requests >= budget:
                logger.warning("request budget of %d spent; stopping the run", budget)
                runner.quit()
                return

    gevent.spawn(watch)


class ScenarioShape(LoadTestShape):
    """The load plan named by PEAKSTORE_LOAD_SHAPE, with its phase actions.

    Runs on the master (or the lone local runner). When a phase starts it logs it, and
    switches the simulator's fault preset, opens the flash sale or deploys a release if the
    phase says so.
    """

    def __init__(self) -> None:
        super().__init__()
        self._plan: LoadPlan | None = None
        self._phase: Phase | None = None

    def plan(self) -> LoadPlan:
        if self._plan is None:
            options = self.runner.environment.parsed_options if self.runner else None
            self._plan = plan_for(
                os.environ.get(SHAPE_ENV, "steady"),
                users=int(os.environ.get(USERS_ENV) or getattr(options, "num_users", None) or 10),
                duration_s=int(
                    os.environ.get(DURATION_ENV) or getattr(options, "run_time", None) or 60
                ),
            )
        return self._plan

    def tick(self) -> tuple[int, float, list] | None:
        t = self.get_run_time()
        tick = self.plan().tick_at(t)
        if tick is None:
            return None
        if tick.phase is not self._phase:
            self._phase_enter(tick.phase, started_at=time.time() - t)
        return tick.users, tick.spawn_rate, [USER_CLASSES[name] for name in tick.user_classes]

    def _phase_enter(self, phase: Phase, *, started_at: float) -> None:
        if self._phase is None:
            self._phases_write(started_at)
        self._phase = phase
        if _recorder is not None:
            _recorder.phase = phase.name
        logger.info("phase %s: %d users", phase.name, phase.users)
        # Off the shape's greenlet: a slow upstream must not hold the next tick.
        if phase.faults is not None:
            gevent.spawn(_faults_switch, phase.faults)
        for kind, rate in phase.drift:
            gevent.spawn(_drift_inject, kind, rate)
        if phase.flash_sale_stock is not None:
            assert self.runner is not None  # a shape ticks only under a runner
            host = self.runner.environment.host
            assert host is not None  # and the runner was given the stack's URL
            gevent.spawn(_flash_sale_open, host, phase.flash_sale_stock)
        if phase.release:
            gevent.spawn(_release_deploy)

    def _phases_write(self, started_at: float) -> None:
        results_dir = os.environ.get(RESULTS_ENV)
        if not results_dir:
            return
        plan = self.plan()
        document = {
            "shape": plan.name,
            "started_at": started_at,
            "duration_s": plan.duration_s,
            "peak_users": plan.peak_users,
            "phases": [window.as_dict() for window in plan.windows()],
        }
        Path(results_dir, PHASES_FILE).write_text(json.dumps(document, indent=1))


def _faults_switch(preset: str) -> None:
    """Switch the simulator to a fault preset by name, through its control API.

    The presets are the simulator's own: this package drives it over HTTP, as it drives
    the store, and imports neither.
    """
    upstream = os.environ.get(UPSTREAM_ENV)
    if not upstream:
        logger.warning("no %s: fault preset %s not applied", UPSTREAM_ENV, preset)
        return
    try:
        response = httpx.post(
            f"{upstream.rstrip('/')}/_faults/preset/{preset}",
            # The simulator refuses control writes without it (a cross-site page cannot
            # send it); named here, not imported: this package imports no app.
            headers={"X-Simulator-Control": "1"},
            timeout=5,
            trust_env=False,
        )
        response.raise_for_status()
        logger.info("simulator fault preset: %s", preset)
    except httpx.HTTPError:
        logger.exception("could not switch the simulator to %s", preset)


def _drift_inject(kind: str, rate: float) -> None:
    """Make one of the simulator's systems of record drift, through its control API."""
    upstream = os.environ.get(UPSTREAM_ENV)
    if not upstream:
        logger.warning("no %s: drift %s not injected", UPSTREAM_ENV, kind)
        return
    try:
        response = httpx.post(
            f"{upstream.rstrip('/')}/_drift/{kind}",
            json={"rate": rate},
            headers={"X-Simulator-Control": "1"},
            timeout=30,
            trust_env=False,
        )
        response.raise_for_status()
        logger.info("simulator drift %s: %d changes", kind, len(response.json()["injected"]))
    except httpx.HTTPError:
        logger.exception("could not inject drift %s", kind)


def _flash_sale_open(host: str, stock: int) -> None:
    """Open the flash sale: the hot SKU is restocked to its sale quantity."""
    sku = catalog().hot_product.skus[0]
    response = httpx.post(
        f"{host}/backoffice/v1/stock/{sku}",
        json={"set": stock, "reason": "flash sale opens"},
        headers={"Authorization": f"Bearer {os.environ.get(BACKOFFICE_TOKEN_ENV, '')}"},
        timeout=10,
        trust_env=False,
    )
    logger.info("flash sale: %s restocked to %d (HTTP %d)", sku, stock, response.status_code)


def _release_deploy() -> None:
    """Deploy a release as a pipeline would: run the store's post-deploy hook.

    The code does not change (this is a load test); the hook does what it does after every
    deploy, which is the point: `storefront/management/commands/post_deploy.py`.
    """
    done = subprocess.run(
        [sys.executable, str(STORE_DIR / "manage.py"), "post_deploy"],
        cwd=STORE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    logger.info("release deployed: post_deploy exited %d %s", done.returncode, done.stdout.strip())
