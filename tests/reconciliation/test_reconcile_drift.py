"""Reconciliation finds every injected difference, repairs what policy allows, and opens
one exception per remaining problem, never a duplicate.

The simulator's drift record is the oracle here only: reconciliation compares the
store with the systems of record and never reads it.
"""

from decimal import Decimal

import pytest

from integrations.interface import drift_inject, drift_record
from inventory.interface import stock_adjust, stock_levels
from pricing.interface import prices_on_list
from reconciliation.interface import exception_act, reconcile
from reconciliation.models import DataException, ExceptionAction, Run
from tests.reconciliation.conftest import variant_id_of

pytestmark = pytest.mark.django_db


def _stock_of(sku: str) -> int:
    level = stock_levels(variant_ids=[variant_id_of(sku)]).get(variant_id_of(sku))
    return level.on_hand if level else 0


def test_a_store_that_agrees_has_nothing_to_reconcile(agreed_store):
    for routine in ("inventory", "prices"):
        run = reconcile(routine=routine)

        assert (run.status, run.compared, run.differences) == ("finished", 240, 0)
    assert DataException.objects.count() == 0


def test_stock_drift_is_found_in_full_repaired_within_policy_and_the_rest_opened(
    agreed_store, settings
):
    settings.RECONCILIATION_POLICY = {**settings.RECONCILIATION_POLICY}
    settings.RECONCILIATION_POLICY["inventory"] = {"max_units": 20, "max_repairs": 200}
    injected = drift_inject("erp-stock", 0.05)["injected"]
    assert len(injected) == 12  # 5% of 240

    run = reconcile(routine="inventory")

    small = [d for d in injected if abs(int(d["after"]) - int(d["before"])) <= 20]
    large = [d for d in injected if d not in small]
    assert small
    assert large
    assert run.differences == len(injected)  # 100% found
    assert run.repaired == len(small)
    assert run.exceptions_opened == len(large)
    for drift in small:
        assert _stock_of(drift["key"]) == int(drift["after"])
    open_entities = set(DataException.objects.values_list("entity", flat=True))
    assert open_entities == {f"sku:{d['key']}" for d in large}
    # A SKU the ERP counted 0 has no stock row here (the store receives only what is on
    # hand): drift on it is stock missing, not a mismatch. Which SKUs drift depends on
    # the factories' names, so the expected kinds come from the drift itself.
    kinds = {"stock.missing" if int(d["before"]) == 0 else "stock.mismatch" for d in large}
    assert set(DataException.objects.values_list("kind", "owner", "runbook").distinct()) == {
        (kind, "inventory", f"docs/runbooks/{kind}.md") for kind in kinds
    }


def test_a_problem_seen_again_updates_its_exception_and_resolves_when_data_agrees(agreed_store):
    injected = drift_inject("erp-stock", 0.05)["injected"]
    first = reconcile(routine="inventory")
    again = reconcile(routine="inventory")

    assert again.exceptions_opened == 0
    assert again.exceptions_seen_again == first.exceptions_opened
    assert DataException.objects.count() == first.exceptions_opened  # no duplicates
    assert set(DataException.objects.values_list("seen_count", flat=True)) == {2}

    # Someone counts the shelf and books what the ERP says: the next run agrees.
    exception = DataException.objects.order_by("pk").first()
    sku = exception.entity.removeprefix("sku:")
    erp = next(int(d["after"]) for d in injected if d["key"] == sku)
    stock_adjust(variant_id=variant_id_of(sku), set_to=erp, reason="counted")
    third = reconcile(routine="inventory")

    exception.refresh_from_db()
    assert third.auto_resolved == 1
    assert exception.state == "resolved"
    assert ExceptionAction.objects.filter(exception=exception, action="auto_resolved").exists()


def test_the_repair_budget_bounds_a_run_and_the_rest_become_exceptions(agreed_store, settings):
    settings.RECONCILIATION_POLICY = {
        **settings.RECONCILIATION_POLICY,
        "inventory": {"max_units": 1000, "max_repairs": 5},
    }
    injected = drift_inject("erp-stock", 0.05)["injected"]

    run = reconcile(routine="inventory")

    assert (run.differences, run.repaired, run.exceptions_opened) == (len(injected), 5, 7)
    budget_spent = DataException.objects.filter(evidence__why_not_repaired="repair budget spent")
    assert budget_spent.count() == 7


def test_price_drift_is_found_in_full_and_repaired_within_policy(agreed_store):
    injected = drift_inject("pim-prices", 0.05)["injected"]

    run = reconcile(routine="prices")

    def change(d):
        return abs(Decimal(d["after"]) - Decimal(d["before"])) / Decimal(d["before"])

    small = [d for d in injected if change(d) <= Decimal("0.10")]
    large = [d for d in injected if d not in small]
    assert small
    assert large
    assert run.differences == len(injected)
    assert (run.repaired, run.exceptions_opened) == (len(small), len(large))
    for drift in small:
        stored = prices_on_list(price_list_code="base", variant_ids=[variant_id_of(drift["key"])])
        assert stored[variant_id_of(drift["key"])] == Decimal(drift["after"])
    assert set(DataException.objects.values_list("entity", flat=True)) == {
        f"sku:{d['key']}" for d in large
    }


def test_a_dry_run_counts_but_changes_and_records_nothing(agreed_store):
    injected = drift_inject("erp-stock", 0.05)["injected"]
    before = {d["key"]: _stock_of(d["key"]) for d in injected}

    run = reconcile(routine="inventory", dry_run=True)

    assert run.differences == len(injected)
    assert DataException.objects.count() == 0
    assert {sku: _stock_of(sku) for sku in before} == before
    assert Run.objects.get(pk=run.id).dry_run


def test_drift_is_the_same_under_the_same_seed(agreed_store):
    first = drift_inject("erp-stock", 0.05)["injected"]
    agreed_store.forget()
    again = drift_inject("erp-stock", 0.05)["injected"]

    assert first == again
    assert drift_record()["injected"] == again


def test_runs_never_overlap(agreed_store):
    from datetime import timedelta

    from toolkit.once import one_at_a_time

    with one_at_a_time("reconciliation.inventory", ttl=timedelta(minutes=1)) as mine:
        assert mine
        run = reconcile(routine="inventory")

    assert run.status == "skipped"
    assert run.compared == 0


def test_people_work_the_queue_and_every_action_names_its_actor(agreed_store):
    drift_inject("pim-prices", 0.05)
    reconcile(routine="prices")
    exception = DataException.objects.order_by("pk").first()

    exception_act(exception_id=exception.pk, action="acknowledge", actor="ada")
    state = exception_act(
        exception_id=exception.pk,
        action="resolve",
        actor="grace",
        reason="supplier confirmed the new price",
        proposed_change="alert at 5% price drift, not 10%",
    )

    assert state == "resolved"
    actions = list(
        ExceptionAction.objects.filter(exception=exception)
        .order_by("pk")
        .values_list("action", "actor")
    )
    assert actions == [("opened", "reconcile prices"), ("acknowledge", "ada"), ("resolve", "grace")]


def test_the_search_read_model_is_reconciled_with_pricing_and_inventory(agreed_store):
    from search.interface import search_reindex
    from search.models import SearchDocument

    search_reindex()
    assert reconcile(routine="search").differences == 0
    # A price and a stock change whose notifications were lost (no commit in a test).
    drift_inject("pim-prices", 0.05)
    reconcile(routine="prices")
    drift_inject("erp-stock", 0.05)
    reconcile(routine="inventory")

    run = reconcile(routine="search")

    assert run.differences > 0
    assert run.repaired == run.differences
    assert reconcile(routine="search").differences == 0
    assert SearchDocument.objects.count() > 0


def test_a_system_of_record_that_stops_answering_fails_the_run_and_resolves_nothing(
    agreed_store, settings
):
    drift_inject("erp-stock", 0.05)
    first = reconcile(routine="inventory")
    agreed_store.set_fault("erp", down=True)

    run = reconcile(routine="inventory")

    assert run.status == "failed"
    assert "ERP" in run.note
    assert run.auto_resolved == 0
    assert DataException.objects.filter(state="open").count() == first.exceptions_opened
