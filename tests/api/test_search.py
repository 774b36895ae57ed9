import pytest

from tests.api.conftest import assert_error
from tests.factories import BrandFactory, stocked_product


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
    assert [p["slug"] for p in body["results"]] == ["down-jacket", "rain-jacket", "tent"]
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
    error = assert_error(api.get("/api/v1/search/", {"q": "x" * 201}), 400, "invalid_request")

    assert list(error["details"]["fields"]) == ["q"]


@pytest.mark.parametrize("page", ["-1", "abc", "2"])
def test_search_rejects_bad_pages(api, gear, page):
    assert_error(api.get("/api/v1/search/", {"q": "jacket", "page": page}), 404, "invalid_page")
