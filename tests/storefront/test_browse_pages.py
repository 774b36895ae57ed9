import json
import re
from decimal import Decimal

import pytest

from catalog.interface import product_change_slug
from catalog.models import SlugHistory
from inventory.interface import stock_adjust
from pricing.interface import PriceInput, prices_import
from tests.factories import BrandFactory, CategoryFactory, ProductImageFactory, stocked_product


def json_ld_of(html: str) -> dict:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match, "no JSON-LD on the page"
    return json.loads(match.group(1))


def test_home_lists_popular_products_and_top_level_categories(client, product, category):
    # given a sub-category and a second, less popular product
    CategoryFactory(name="Tents", slug="tents", parent=category)
    stocked_product(category=category, name="Camp Stove", popularity=1)

    # when
    response = client.get("/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Trail Runner") < html.index("Camp Stove")
    assert [c.slug for c in response.context["categories"]] == ["outdoor"]
    assert '<link rel="canonical" href="http://testserver/">' in html


def test_category_page_lists_the_subtree_with_from_price_and_stock(client, category):
    # given a product in a sub-category with two prices, and a sold-out product
    tents = CategoryFactory(name="Tents", slug="tents", parent=category)
    stocked_product(category=tents, name="Dome Tent", variants=2, price="120.00")
    stocked_product(category=category, name="Sold Out Shoe", stock=0)

    # when
    response = client.get("/c/outdoor/")

    # then
    html = response.content.decode()
    offers = {offer.card.name: offer for offer in response.context["offers"]}
    assert response.status_code == 200
    assert offers["Dome Tent"].from_price == Decimal("120.00")
    assert offers["Dome Tent"].in_stock
    assert not offers["Sold Out Shoe"].in_stock
    assert "Out of stock" in html
    assert '<a href="/c/tents/">Tents</a>' in html


def test_category_page_from_price_is_the_lowest_variant_price(client, category):
    # given a product whose variants cost 30 and 12.50
    product = stocked_product(category=category, variants=2, price="30.00")
    cheap = product.variants.order_by("id").last()
    prices_import(price_list_code="base", prices=[PriceInput(cheap.pk, Decimal("12.50"))])

    # when
    response = client.get("/c/outdoor/")

    # then
    assert response.context["offers"][0].from_price == Decimal("12.50")
    assert "€12.50" in response.content.decode()


def test_category_breadcrumbs_run_from_the_root(client, category):
    # given
    tents = CategoryFactory(name="Tents", slug="tents", parent=category)
    CategoryFactory(name="Domes", slug="domes", parent=tents)

    # when
    response = client.get("/c/domes/")

    # then
    assert [c.slug for c in response.context["breadcrumbs"]] == ["outdoor", "tents", "domes"]
    assert '<span aria-current="page">Domes</span>' in response.content.decode()


def test_brand_filter_keeps_only_the_chosen_brands_and_shows_counts(client, category):
    # given
    alpine = BrandFactory(name="Alpine", slug="alpine")
    coast = BrandFactory(name="Coast", slug="coast")
    stocked_product(category=category, brand=alpine, name="Alpine Pack")
    stocked_product(category=category, brand=alpine, name="Alpine Pole")
    stocked_product(category=category, brand=coast, name="Coast Kayak")

    # when
    response = client.get("/c/outdoor/?brand=coast")

    # then
    assert [offer.card.name for offer in response.context["offers"]] == ["Coast Kayak"]
    facets = {facet.brand.slug: facet.count for facet in response.context["facets"]}
    assert facets == {"alpine": 2, "coast": 1}
    assert 'value="coast" checked' in response.content.decode()


def test_repeated_brand_parameters_combine(client, category):
    # given
    for slug in ("alpine", "coast", "delta"):
        stocked_product(category=category, brand=BrandFactory(name=slug.title(), slug=slug))

    # when
    response = client.get("/c/outdoor/?brand=alpine&brand=delta&brand=%00bad")

    # then
    assert {offer.card.brand.slug for offer in response.context["offers"]} == {"alpine", "delta"}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Apple", "Banana", "Cherry"]),
        ("popular", ["Banana", "Cherry", "Apple"]),
        ("newest", ["Cherry", "Banana", "Apple"]),
        ("no-such-sort", ["Banana", "Cherry", "Apple"]),
    ],
)
def test_sort_orders_the_listing_and_unknown_sorts_fall_back_to_popular(
    client, category, sort, expected
):
    # given products created in this order, with these popularities
    stocked_product(category=category, name="Apple", popularity=1)
    stocked_product(category=category, name="Banana", popularity=30)
    stocked_product(category=category, name="Cherry", popularity=20)

    # when
    response = client.get(f"/c/outdoor/?sort={sort}")

    # then
    assert response.status_code == 200
    assert [offer.card.name for offer in response.context["offers"]] == expected


def test_category_pagination_links_keep_filters(client, category, settings):
    # given three products, two per page
    settings.CATALOG_PAGE_SIZE = 2
    for index in range(3):
        stocked_product(category=category, name=f"Item {index}")

    # when
    first = client.get("/c/outdoor/?sort=name")
    second = client.get("/c/outdoor/?sort=name&page=2")

    # then
    assert len(first.context["offers"]) == 2
    assert first.context["links"].next_url == "/c/outdoor/?sort=name&page=2"
    assert [offer.card.name for offer in second.context["offers"]] == ["Item 2"]
    assert second.context["links"].previous_url == "/c/outdoor/?sort=name"


def test_category_canonical_drops_sort_and_brand_but_keeps_the_page(client, category, settings):
    # given
    settings.CATALOG_PAGE_SIZE = 1
    stocked_product(category=category, brand=BrandFactory(slug="alpine"))
    stocked_product(category=category, brand=BrandFactory(slug="alpine"))

    # when
    first = client.get("/c/outdoor/?sort=name&brand=alpine")
    second = client.get("/c/outdoor/?sort=name&brand=alpine&page=2")

    # then
    assert first.context["meta"].canonical_url == "http://testserver/c/outdoor/"
    assert second.context["meta"].canonical_url == "http://testserver/c/outdoor/?page=2"


@pytest.mark.parametrize("page", ["-1", "0", "abc", "2", "1.5", "99999999999999999999999"])
def test_bad_or_missing_category_pages_are_real_404s(client, product, page):
    # when
    response = client.get(f"/c/outdoor/?page={page}")

    # then
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert '<a href="/c/outdoor/">Outdoor</a>' in response.content.decode()  # store layout


def test_unknown_category_and_product_slugs_are_404_with_the_store_layout(client, product):
    for url in ("/c/no-such-category/", "/p/no-such-product/", "/no/such/page/"):
        response = client.get(url)

        assert response.status_code == 404, url
        assert response.templates[0].name == "404.html"
        assert 'class="category-nav"' in response.content.decode()


def test_an_old_category_slug_redirects_permanently(client, category):
    # given the slug the category had before it was renamed
    SlugHistory.objects.create(entity="category", slug="old-outdoor", entity_id=category.pk)

    # when
    response = client.get("/c/old-outdoor/?page=1")

    # then
    assert response.status_code == 301
    assert response["Location"] == "/c/outdoor/?page=1"


def test_product_page_shows_variants_prices_and_the_add_to_cart_form(client, category):
    # given a product with two variants, one sold out
    product = stocked_product(category=category, name="Rain Jacket", variants=2, price="89.00")
    variants = list(product.variants.order_by("id"))
    stock_adjust(variant_id=variants[1].pk, set_to=0, reason="count")
    ProductImageFactory(product=product, url="/static/jacket.jpg", alt="Rain jacket in red")

    # when
    response = client.get(f"/p/{product.slug}/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert '<form class="add-to-cart" method="post" action="/cart/add/">' in html
    assert f'<option value="{variants[0].sku}" selected>' in html
    assert f'<option value="{variants[1].sku}" disabled>' in html
    assert re.search(r'<input[^>]*type="number"[^>]*name="quantity"[^>]*value="1"', html)
    assert re.search(r"<button[^>]*>Add to cart</button>", html)
    assert 'alt="Rain jacket in red"' in html
    assert '<section id="recommendations"' in html
    assert '<section id="reviews"' in html
    assert '<a href="/c/outdoor/">Outdoor</a>' in html


def test_a_single_variant_product_posts_its_sku_in_a_hidden_field(client, product, sku):
    # when
    html = client.get("/p/trail-runner/").content.decode()

    # then
    assert f'<input type="hidden" name="sku" value="{sku}">' in html
    assert '<select id="sku"' not in html


def test_product_json_ld_carries_price_and_availability(client, category):
    # given
    product = stocked_product(category=category, name="Headlamp", variants=2, price="24.50")
    sold_out = product.variants.order_by("id").last()
    stock_adjust(variant_id=sold_out.pk, set_to=0, reason="count")

    # when
    data = json_ld_of(client.get("/p/" + product.slug + "/").content.decode())

    # then
    assert data["@type"] == "Product"
    assert data["name"] == "Headlamp"
    availability = {offer["sku"]: offer["availability"] for offer in data["offers"]}
    assert availability[sold_out.sku] == "https://schema.org/OutOfStock"
    assert sorted(availability.values())[0] == "https://schema.org/InStock"
    assert {offer["price"] for offer in data["offers"]} == {"24.50"}
    assert {offer["priceCurrency"] for offer in data["offers"]} == {"EUR"}


def test_product_json_ld_cannot_be_broken_out_of(client, category):
    # given a product name that tries to close the script element
    stocked_product(category=category, name="</script><script>alert(1)</script>", slug="evil")

    # when
    html = client.get("/p/evil/").content.decode()

    # then
    assert "<script>alert(1)" not in html
    assert json_ld_of(html)["name"] == "</script><script>alert(1)</script>"


def test_an_old_product_slug_redirects_permanently(client, product):
    # given
    product_change_slug(product_id=product.pk, new_slug="trail-runner-2")

    # when
    response = client.get("/p/trail-runner/")

    # then
    assert response.status_code == 301
    assert response["Location"] == "/p/trail-runner-2/"
    assert client.get(response["Location"]).status_code == 200


def test_product_without_stock_cannot_be_added(client, category):
    # given
    stocked_product(category=category, slug="gone", stock=0)

    # when
    html = client.get("/p/gone/").content.decode()

    # then
    assert re.search(r'<button type="submit" class="primary" disabled>Add to cart</button>', html)
    assert "Out of stock" in html


def test_search_finds_products_by_name(client, product, category):
    # given
    stocked_product(category=category, name="Camp Stove")

    # when
    response = client.get("/search/?q=trail")

    # then
    assert response.status_code == 200
    assert [offer.card.name for offer in response.context["offers"]] == ["Trail Runner"]
    assert response.context["meta"].canonical_url == "http://testserver/search/?q=trail"
    assert 'value="trail"' in response.content.decode()


def test_empty_search_shows_an_empty_state(client, product):
    # when
    response = client.get("/search/?q=+++")

    # then
    assert response.status_code == 200
    assert response.context["offers"] == ()
    assert "Type what you are looking for" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    ["x" * 5000, "%00", "'; DROP TABLE catalog_product; --", "<script>", "ü%20🙂", "%25_%5C"],
)
def test_odd_search_input_renders_safely(client, product, query):
    # when
    response = client.get(f"/search/?q={query}")

    # then
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("<main", 1)[1]


def test_search_pages_follow_a_signed_cursor_and_refuse_a_forged_one(client, category, settings):
    # given more matches than a page holds
    settings.CATALOG_PAGE_SIZE = 2
    for index in range(3):
        stocked_product(category=category, name=f"Trail Shoe {index}")

    # when the visitor follows "Next"
    first = client.get("/search/?q=trail")
    second = client.get(first.context["next_url"])

    # then the second page holds the rest, and a forged cursor is a bad request
    assert len(first.context["offers"]) == 2
    assert len(second.context["offers"]) == 1
    assert 'rel="next"' not in second.content.decode()
    assert client.get("/search/?q=trail&cursor=forged").status_code == 400


def test_search_filters_show_counts_and_narrow_the_results(client, category):
    stocked_product(category=category, name="Trail Tent", price="300.00")
    stocked_product(category=category, name="Trail Mug", price="12.00", stock=0)

    html = client.get("/search/?q=trail&in_stock=1&price=0-25").content.decode()
    narrowed = client.get("/search/?q=trail&price=0-25")

    assert 'name="in_stock" value="1" checked' in html
    assert [o.card.name for o in narrowed.context["offers"]] == ["Trail Mug"]


def test_search_past_its_budget_serves_results_with_a_quiet_notice(client, product, settings):
    settings.SEARCH_LATENCY_BUDGET = 0

    response = client.get("/search/?q=trail")

    assert [offer.card.name for offer in response.context["offers"]] == ["Trail Runner"]
    assert "counts are left out" in response.content.decode()


def test_browse_pages_refuse_writes(client, product):
    assert client.post("/c/outdoor/").status_code == 405
    assert client.post("/p/trail-runner/").status_code == 405
