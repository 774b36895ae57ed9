"""The simulated ERP stock, PIM, tax, shipping, recommendations and reviews answer
plausibly, the same way every time, and from the catalog snapshot when given one."""

import json

import httpx
import pytest

from integrations.simulator.catalog import SimCatalog, SnapshotProduct
from integrations.simulator.reviews import RATINGS_SAMPLED, SHOWN, Reviews
from integrations.simulator.routes import Request
from tests.simulator import running_simulator


@pytest.fixture
def upstream(upstream_simulator):
    with httpx.Client(base_url=upstream_simulator.url, timeout=5) as client:
        yield client


def test_answers_are_stable_for_a_seed(upstream):
    paths = [
        "/erp/stock?skus=A-1,B-2",
        "/pim/prices?skus=A-1",
        "/recommendations/products/trail-runner?limit=4",
        "/reviews/products/trail-runner",
    ]

    assert [upstream.get(p).json() for p in paths] == [upstream.get(p).json() for p in paths]


def test_a_different_seed_gives_different_answers(upstream):
    ours = upstream.get("/pim/prices?skus=A-1,B-2,C-3").json()
    with running_simulator(seed=11) as other:
        theirs = httpx.get(f"{other.url}/pim/prices?skus=A-1,B-2,C-3").json()

    assert ours != theirs


def test_tax_knows_postal_code_exceptions(upstream):
    def rate(country, postal_code=""):
        params = {"country": country, "postal_code": postal_code}
        return upstream.get("/tax/rates", params=params).json()["rate"]

    assert rate("DE", "10115") == "0.19"
    assert rate("DE", "27498") == "0.00"
    assert rate("ES", "38001") == "0.07"
    assert upstream.get("/tax/rates", params={"country": "ZZ"}).status_code == 404


def test_shipping_matches_the_home_table_and_charges_zones_more(upstream):
    home = upstream.get("/shipping/rates", params={"country": "DE"}).json()["rates"]
    far = upstream.get("/shipping/rates", params={"country": "PT"}).json()["rates"]

    assert [(r["code"], r["price"], r["free_over"]) for r in home] == [
        ("standard", "4.90", "50.00"),
        ("express", "9.90", None),
    ]
    assert [r["code"] for r in far] == ["standard"]  # no express to the far zone
    assert float(far[0]["price"]) > 4.90


def test_bad_requests_are_refused(upstream):
    assert upstream.get("/erp/stock").status_code == 400
    assert upstream.get("/pim/prices?skus=" + ",".join(["X"] * 101)).status_code == 400
    assert upstream.get("/recommendations/products/x?limit=0").status_code == 400


def test_reviews_carry_a_rating_count_and_the_latest_texts(upstream):
    body = upstream.get("/reviews/products/summit-shell").json()

    assert body["count"] >= len(body["reviews"])
    assert all(1 <= review["rating"] <= 5 and review["body"] for review in body["reviews"])


def test_with_a_snapshot_recommendations_are_real_products_of_the_same_category(tmp_path):
    snapshot = {
        "products": [
            {"slug": f"tent-{i}", "name": f"Tent {i}", "category_id": 1, "weight": 10, "skus": []}
            for i in range(6)
        ]
        + [
            {"slug": f"mug-{i}", "name": f"Mug {i}", "category_id": 2, "weight": 10, "skus": []}
            for i in range(6)
        ]
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(snapshot))

    with running_simulator(catalog=path) as simulator:
        items = httpx.get(f"{simulator.url}/recommendations/products/tent-0?limit=4").json()[
            "items"
        ]

    assert len(items) == 4
    assert all(item["slug"].startswith("tent-") and item["slug"] != "tent-0" for item in items)
    assert all(item["name"] == item["slug"].replace("t-", "t ").title() for item in items)


def test_a_bestsellers_reviews_draw_no_more_ratings_than_any_product(monkeypatch):
    # given the top product of a Zipf-weighted snapshot (weight 1,000,000)
    bestseller = SnapshotProduct(
        slug="terra-t-shirt", name="Terra T-shirt", category=1, weight=1_000_000, skus=()
    )
    reviews = Reviews(SimCatalog([bestseller], seed=7))
    drawn: list[int] = []
    real_rng = reviews.catalog.rng

    def counting_rng(*key):
        rng = real_rng(*key)
        real_choices = rng.choices
        rng.choices = lambda *args, k=1, **kwargs: (
            drawn.append(k) or real_choices(*args, k=k, **kwargs)
        )
        return rng

    monkeypatch.setattr(reviews.catalog, "rng", counting_rng)

    path = "/reviews/products/terra-t-shirt"
    body = reviews.for_product(Request("GET", path, {"slug": "terra-t-shirt"}, {}, {}, None)).body

    # then it has many reviews, but its average comes from a bounded sample
    assert 500 <= body["count"] <= 2_000
    assert 1 <= body["rating"] <= 5
    assert sum(drawn) <= RATINGS_SAMPLED + 3 * SHOWN
