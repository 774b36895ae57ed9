"""The simulator's records outlive its process: a restarted gateway still knows its captures."""

import json
from datetime import UTC, datetime

import httpx

from tests.simulator import running_simulator


def _pay(url: str, reference: str, amount: str = "12.50") -> str:
    authorization = httpx.post(
        f"{url}/payment/authorizations",
        json={"token": "tok_ok", "amount": amount, "currency": "EUR", "reference": reference},
        headers={"Idempotency-Key": f"{reference}:authorize"},
        timeout=5,
    ).json()
    captured = httpx.post(
        f"{url}/payment/authorizations/{authorization['id']}/capture",
        json={"amount": amount},
        headers={"Idempotency-Key": f"{reference}:capture"},
        timeout=5,
    )
    assert captured.status_code == 200
    return authorization["id"]


def _captures(url: str, **params: str) -> list[dict]:
    return httpx.get(f"{url}/payment/captures", params=params, timeout=5).json()["captures"]


def test_a_restarted_simulator_remembers_captures_replies_and_exports(tmp_path):
    state = tmp_path / "simulator-state.sqlite3"
    with running_simulator(state=state) as first:
        authorization_id = _pay(first.url, "PS-RESTART1")
        httpx.post(
            f"{first.url}/erp/orders",
            json={"reference": "PS-RESTART1", "lines": [], "total": "12.50", "currency": "EUR"},
            headers={"Idempotency-Key": "order.erp_export:PS-RESTART1"},
            timeout=5,
        ).raise_for_status()

    with running_simulator(state=state) as second:
        captures = _captures(second.url)
        assert [(c["reference"], c["captured_amount"]) for c in captures] == [
            ("PS-RESTART1", "12.50")
        ]
        payments = httpx.get(
            f"{second.url}/payment/payments", params={"reference": "PS-RESTART1"}, timeout=5
        ).json()["payments"]
        assert [(p["id"], p["status"]) for p in payments] == [(authorization_id, "captured")]
        # The stored answer is replayed, not a second capture made.
        replay = httpx.post(
            f"{second.url}/payment/authorizations/{authorization_id}/capture",
            json={"amount": "12.50"},
            headers={"Idempotency-Key": "PS-RESTART1:capture"},
            timeout=5,
        )
        assert replay.status_code == 200
        assert len(_captures(second.url)) == 1
        assert [o["reference"] for o in second.erp_orders()] == ["PS-RESTART1"]


def test_reset_state_forgets_the_file(tmp_path):
    state = tmp_path / "simulator-state.sqlite3"
    with running_simulator(state=state) as first:
        _pay(first.url, "PS-RESET1")
    with running_simulator(state=state, reset_state=True) as second:
        assert _captures(second.url) == []
        _pay(second.url, "PS-RESET2")
        second.forget()  # POST /_state/reset empties the file too
    with running_simulator(state=state) as third:
        assert _captures(third.url) == []


def test_captures_since_lists_only_the_later_ones(upstream_simulator):
    _pay(upstream_simulator.url, "PS-SINCE1")
    cutoff = datetime.now(UTC)
    _pay(upstream_simulator.url, "PS-SINCE2")

    later = _captures(upstream_simulator.url, since=cutoff.isoformat())

    assert [c["reference"] for c in later] == ["PS-SINCE2"]
    bad = httpx.get(f"{upstream_simulator.url}/payment/captures", params={"since": "x"}, timeout=5)
    assert bad.status_code == 400


def test_the_pim_and_erp_answer_from_the_books_and_the_erp_ships_what_it_books(tmp_path):
    books = tmp_path / "simulator-books.json"
    books.write_text(json.dumps({"prices": {"SKU-A": "12.90"}, "stock": {"SKU-A": 7}}))
    state = tmp_path / "simulator-state.sqlite3"
    with running_simulator(books=books, state=state) as simulator:
        prices = httpx.get(f"{simulator.url}/pim/prices", params={"skus": "SKU-A,SKU-B"}).json()
        assert prices["prices"][0] == {"sku": "SKU-A", "amount": "12.90", "currency": "EUR"}
        assert prices["prices"][1]["sku"] == "SKU-B"  # not in the books: generated
        httpx.post(
            f"{simulator.url}/erp/orders",
            json={
                "reference": "PS-SHIP1",
                "lines": [{"sku": "SKU-A", "quantity": 3}],
                "total": "38.70",
                "currency": "EUR",
            },
            headers={"Idempotency-Key": "order.erp_export:PS-SHIP1"},
            timeout=5,
        ).raise_for_status()
        assert _erp_on_hand(simulator.url, "SKU-A") == 4
    # the shipped units stay shipped after a restart
    with running_simulator(books=books, state=state) as restarted:
        assert _erp_on_hand(restarted.url, "SKU-A") == 4


def _erp_on_hand(url: str, sku: str) -> int:
    return httpx.get(f"{url}/erp/stock", params={"skus": sku}, timeout=5).json()["stock"][0][
        "on_hand"
    ]
