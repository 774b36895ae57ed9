import pytest
from django.test import override_settings

from catalog.interface import product_change_slug
from tests.factories import BrandFactory, CategoryFactory, ProductImageFactory, stocked_product
from tests.storefront.api.conftest import assert_error


def test_product_list_item_has_the_documented_shape(api, product):
    response = api.get("/api/v1/products/")

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "count": 1,
        "page": 1,
        "num_pages": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "slug": "trail-runner",
                "name": "Trail Runner",
                "brand": {"slug": product.brand.slug, "name": product.brand.name},
                "url": "/p/trail-runner/",
                "api_url": "/api/v1/products/trail-runner/",
                "image_url": product.image_url,
                "price_from": "19.90",
                "currency": "EUR",
                "in_stock": True,
            }
        ],
    }


def test_price_from_is_the_cheapest_variant_and_in_stock_needs_stock(api, db):
    product = stocked_product(price="30.00", stock=0, variants=2)
    cheap = product.variants.order_by("id").first()
    from pricing.interface import PriceInput, prices_import

    prices_import(price_list_code="base", prices=[PriceInput(variant_id=cheap.pk, amount="7.50")])

    item = api.get("/api/v1/products/").json()["results"][0]

    assert item["price_from"] == "7.50"
    assert item["in_stock"] is False


def test_product_list_filters_by_category_subtree(api, db):
    root = CategoryFactory(slug="outdoor")
    child = CategoryFactory(slug="tents", parent=root)
    stocked_product(category=root, slug="in-root")
    stocked_product(category=child, slug="in-child")
    stocked_product(category=CategoryFactory(slug="kitchen"), slug="elsewhere")

    outdoor = api.get("/api/v1/products/", {"category": "outdoor"}).json()
    tents = api.get("/api/v1/products/", {"category": "tents"}).json()

    assert {p["slug"] for p in outdoor["results"]} == {"in-root", "in-child"}
    assert [p["slug"] for p in tents["results"]] == ["in-child"]


def test_product_list_filters_by_brand(api, db):
    alpine, nordic, other = (BrandFactory(slug=s) for s in ("alpine", "nordic", "other"))
    stocked_product(brand=alpine, slug="a")
    stocked_product(brand=nordic, slug="n")
    stocked_product(brand=other, slug="o")

    one = api.get("/api/v1/products/", {"brand": "alpine"}).json()
    two = api.get("/api/v1/products/?brand=alpine&brand=nordic").json()

    assert [p["slug"] for p in one["results"]] == ["a"]
    assert {p["slug"] for p in two["results"]} == {"a", "n"}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("popular", ["b", "c", "a"]), ("name", ["a", "b", "c"]), ("newest", ["c", "b", "a"])],
)
def test_product_list_sorts(api, db, sort, expected):
    stocked_product(slug="a", name="Anorak", popularity=1)
    stocked_product(slug="b", name="Boots", popularity=30)
    stocked_product(slug="c", name="Compass", popularity=20)

    body = api.get("/api/v1/products/", {"sort": sort}).json()

    assert [p["slug"] for p in body["results"]] == expected


@override_settings(CATALOG_PAGE_SIZE=2)
def test_product_list_pages_keep_the_filters_in_their_links(api, db):
    for index in range(5):
        stocked_product(slug=f"p{index}", popularity=100 - index)

    first = api.get("/api/v1/products/", {"sort": "popular"}).json()
    last = api.get("/api/v1/products/", {"sort": "popular", "page": 3}).json()

    assert (first["count"], first["num_pages"]) == (5, 3)
    assert [p["slug"] for p in first["results"]] == ["p0", "p1"]
    assert first["next"] == "/api/v1/products/?sort=popular&page=2"
    assert first["previous"] is None
    assert [p["slug"] for p in last["results"]] == ["p4"]
    assert last["next"] is None
    assert last["previous"] == "/api/v1/products/?sort=popular&page=2"


@override_settings(CATALOG_PAGE_SIZE=2)
def test_product_list_links_carry_only_the_parameters_it_reads(api, db):
    # a campaign's click id, a stray parameter and an unknown one are not passed on
    for index in range(5):
        stocked_product(slug=f"p{index}", popularity=100 - index)
    url = "/api/v1/products/?limit=-5&gclid=Cj0abc&sort=name&utm_source=mail"

    body = api.get(f"{url}&page=2").json()

    assert body["next"] == "/api/v1/products/?sort=name&page=3"
    assert body["previous"] == "/api/v1/products/?sort=name&page=1"


def test_product_list_unknown_category_is_a_404(api, db):
    assert_error(api.get("/api/v1/products/?category=nope"), 404, "category_not_found")


@pytest.mark.parametrize(
    "query",
    ["sort=cheapest", "category=not%20a%20slug", "brand=%24%24"],
)
def test_product_list_rejects_bad_filters(api, db, query):
    error = assert_error(api.get(f"/api/v1/products/?{query}"), 400, "invalid_request")
    assert query.split("=")[0] in error["details"]["fields"]


@pytest.mark.parametrize("page", ["-1", "0", "abc", "1.5", "99"])
def test_product_list_rejects_bad_pages(api, product, page):
    assert_error(api.get("/api/v1/products/", {"page": page}), 404, "invalid_page")


def test_product_detail_has_variants_images_and_breadcrumbs(api, db):
    root = CategoryFactory(slug="outdoor", name="Outdoor")
    leaf = CategoryFactory(slug="tents", name="Tents", parent=root)
    product = stocked_product(category=leaf, slug="dome", name="Dome", price="120.00", stock=3)
    image = ProductImageFactory(product=product, alt="front")
    variant = product.variants.get()

    response = api.get("/api/v1/products/dome/")

    assert response.status_code == 200
    assert response.json() == {
        "slug": "dome",
        "name": "Dome",
        "description": product.description,
        "brand": {"slug": product.brand.slug, "name": product.brand.name},
        "category": {"slug": "tents", "name": "Tents", "url": "/c/tents/"},
        "breadcrumbs": [
            {"slug": "outdoor", "name": "Outdoor", "url": "/c/outdoor/"},
            {"slug": "tents", "name": "Tents", "url": "/c/tents/"},
        ],
        "url": "/p/dome/",
        "images": [{"url": image.url, "alt": "front"}],
        "variants": [
            {
                "sku": variant.sku,
                "name": variant.name,
                "attributes": variant.attributes,
                "price": "120.00",
                "available": 3,
            }
        ],
        "price_from": "120.00",
        "currency": "EUR",
        "in_stock": True,
    }


def test_product_detail_unknown_slug_is_a_404(api, db):
    error = assert_error(api.get("/api/v1/products/no-such-thing/"), 404, "product_not_found")
    assert error["details"] == {"slug": "no-such-thing"}


def test_product_detail_old_slug_redirects_permanently(api, product):
    product_change_slug(product_id=product.pk, new_slug="trail-runner-2")

    response = api.get("/api/v1/products/trail-runner/?utm=x")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/products/trail-runner-2/?utm=x"
    assert api.get(response["Location"]).json()["slug"] == "trail-runner-2"


def test_category_list_is_the_tree_with_parent_slugs(api, db):
    root = CategoryFactory(slug="outdoor", name="Outdoor")
    tents = CategoryFactory(slug="tents", name="Tents", parent=root)

    response = api.get("/api/v1/categories/")

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "id": root.pk,
                "slug": "outdoor",
                "name": "Outdoor",
                "parent": None,
                "depth": 0,
                "url": "/c/outdoor/",
                "products_url": "/api/v1/products/?category=outdoor",
            },
            {
                "id": tents.pk,
                "slug": "tents",
                "name": "Tents",
                "parent": "outdoor",
                "depth": 1,
                "url": "/c/tents/",
                "products_url": "/api/v1/products/?category=tents",
            },
        ]
    }
