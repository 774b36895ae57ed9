from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.factories import BrandFactory, stocked_product
from tests.storefront.api.conftest import assert_error


@pytest.fixture
def gear(db):
    stocked_product(slug="rain-jacket", name="Rain Jacket", popularity=5)
    stocked_product(slug="down-jacket", name="Down Jacket", popularity=9)
    stocked_product(slug="tent", name="Tent", brand=BrandFactory(name="Jacketeer"), popularity=1)
    stocked_product(slug="stove", name="Stove")


def test_search_matches_names_and_brands_most_popular_first(api, gear):
    response = api.get("/api/v1/search/", {"q": "  jacket "})

    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "jacket"
    assert body["count"] == 3
    # names outrank brands; equal matches go most popular first
    assert [p["slug"] for p in body["results"]] == ["down-jacket", "rain-jacket", "tent"]
    assert (body["next"], body["degraded"], body["count_capped"]) == (None, False, False)
    assert {b["label"]: b["count"] for b in body["facets"]["brands"]}["Jacketeer"] == 1
    assert set(body["results"][0]) == {
        "slug",
        "name",
        "brand",
        "url",
        "api_url",
        "image_url",
        "price_from",
        "currency",
        "in_stock",
    }
    assert body["results"][0]["price_from"] == "19.90"


def test_search_needs_every_word(api, gear):
    body = api.get("/api/v1/search/", {"q": "rain jacket"}).json()

    assert [p["slug"] for p in body["results"]] == ["rain-jacket"]


@pytest.mark.parametrize("query", ["", "   ", None])
def test_empty_search_matches_nothing(api, gear, query):
    params = {} if query is None else {"q": query}

    body = api.get("/api/v1/search/", params).json()

    assert (body["count"], body["results"], body["next"]) == (0, [], None)


def test_search_rejects_an_overlong_query(api, db):
    error = assert_error(api.get("/api/v1/search/", {"q": "x" * 5000}), 400, "invalid_request")

    assert list(error["details"]["fields"]) == ["q"]


@pytest.mark.parametrize(
    "query",
    ['"jacket', "jacket OR tent", "NEAR(jacket", "'; DROP TABLE catalog_product; --", "ü 🙂 テ"],
)
def test_odd_queries_answer_200(api, gear, query):
    assert api.get("/api/v1/search/", {"q": query}).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "cheapest"}, "sort"),
        ({"price_min": "abc"}, "price_min"),
        ({"price_max": "-1"}, "price_max"),
        ({"attr": "no-colon"}, "attr"),
        ({"brand": "not a slug!"}, "brand"),
        ({"in_stock": "maybe"}, "in_stock"),
    ],
)
def test_malformed_filters_are_400(api, gear, params, field):
    error = assert_error(
        api.get("/api/v1/search/", {"q": "jacket", **params}), 400, "invalid_request"
    )

    assert field in error["details"]["fields"]


def test_unknown_filter_values_match_nothing(api, gear):
    params = {"q": "jacket", "brand": "no-such-brand", "attr": "colour:plaid"}

    assert api.get("/api/v1/search/", params).json()["count"] == 0


def test_unknown_category_is_404(api, gear):
    response = api.get("/api/v1/search/", {"q": "jacket", "category": "nowhere"})

    assert_error(response, 404, "category_not_found")


def test_next_carries_only_the_parameters_search_reads(api, gear, settings):
    settings.CATALOG_PAGE_SIZE = 2

    body = api.get("/api/v1/search/?q=jacket&fbclid=IwAR0&limit=3&utm_campaign=x").json()

    link = urlsplit(body["next"])
    assert link.path == "/api/v1/search/"
    assert [name for name, _ in parse_qsl(link.query)] == ["q", "cursor"]


def test_next_follows_the_cursor_and_a_forged_cursor_is_400(api, gear, settings):
    settings.CATALOG_PAGE_SIZE = 2
    first = api.get("/api/v1/search/", {"q": "jacket"}).json()

    second = api.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert [p["slug"] for p in second["results"]] == ["tent"]
    assert second["next"] is None
    forged = api.get("/api/v1/search/", {"q": "jacket", "cursor": "eyJmIjoiYWJjIn0:forged"})
    assert_error(forged, 400, "invalid_cursor")
    other_search = api.get(
        "/api/v1/search/", {"q": "tent", "cursor": first["next"].split("cursor=")[1]}
    )
    assert_error(other_search, 400, "invalid_cursor")


def test_degraded_search_says_so(api, gear, settings):
    settings.SEARCH_LATENCY_BUDGET = 0

    body = api.get("/api/v1/search/", {"q": "jacket"}).json()

    assert body["count"] == 3
    assert (body["facets"], body["degraded"]) == (None, True)
    assert body["notices"]


def test_suggestions_for_a_search_box(api, gear):
    body = api.get("/api/v1/search/suggest/", {"q": "jack"}).json()

    assert body["query"] == "jack"
    assert body["suggestions"][0] == {
        "name": "Down Jacket",
        "slug": "down-jacket",
        "url": "/p/down-jacket/",
    }
    assert api.get("/api/v1/search/suggest/").json()["suggestions"] == []
