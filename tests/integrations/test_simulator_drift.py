"""Drift on demand: refused when it cannot apply, counted and recorded when it does."""

from io import StringIO

import httpx
import pytest
from django.core.management import CommandError, call_command

from integrations.simulator.drift import drift_count
from integrations.simulator.server import CONTROL_HEADER


def _drift(simulator, kind, body):
    return httpx.post(
        f"{simulator.url}/_drift/{kind}", json=body, headers={CONTROL_HEADER: "1"}, timeout=5
    )


@pytest.mark.parametrize(
    ("kind", "body"),
    [("erp-stock", {"rate": 1.5}), ("erp-stock", {"rate": True}), ("nonsense", {"rate": 0.1})],
)
def test_an_invalid_drift_is_a_400(upstream_simulator, kind, body):
    answer = _drift(upstream_simulator, kind, body)

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_drift"


def test_stock_drift_without_a_catalog_is_refused(upstream_simulator):
    answer = _drift(upstream_simulator, "erp-stock", {"rate": 0.05})

    assert answer.status_code == 400
    assert "--catalog" in answer.json()["message"]


def test_drift_without_the_control_header_is_refused(upstream_simulator):
    answer = httpx.post(f"{upstream_simulator.url}/_drift/erp-orders", json={"rate": 0.1})

    assert answer.status_code == 403


def test_a_rate_changes_its_rounded_share_and_at_least_one(upstream_simulator):
    assert [drift_count(0.05, n) for n in (0, 1, 10, 240, 1000)] == [0, 1, 1, 12, 50]
    assert drift_count(0, 1000) == 0


def test_the_command_injects_and_prints_what_changed(upstream_simulator, settings):
    out = StringIO()

    call_command("faults", "drift", "erp-orders", "--rate", "0.05", stdout=out)

    assert '"injected": []' in out.getvalue()  # nothing booked yet, nothing to lose
    with pytest.raises(CommandError, match="--rate"):
        call_command("faults", "drift", "erp-orders", "--rate", "2")
