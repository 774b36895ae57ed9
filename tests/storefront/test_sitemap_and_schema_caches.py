"""The sitemaps and the API schema are cached: the sitemaps in their own namespace, which
follows every catalog change and ignores prices and stock; the schema once per process
and format, as it changes only with the code."""

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator

from catalog.interface import ProductInput, VariantInput, product_change_slug, products_import
from inventory.interface import StockReceipt, stock_receive
from pricing.interface import PriceInput, prices_import
from storefront.api.schema_view import schema_rendered
from storefront.caches import SITEMAP_PAGES
from toolkit.cache.metrics import CacheEvent, cache_event_count

SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
SITEMAPS = ["/sitemap.xml", "/sitemap-products.xml", "/sitemap-categories.xml"]


def locations(response) -> list[str]:
    return [node.text for node in ET.fromstring(response.content).findall(".//sm:loc", SITEMAP_NS)]


def misses() -> int:
    return cache_event_count(SITEMAP_PAGES.spec.namespace, CacheEvent.MISS)


@pytest.mark.parametrize("url", SITEMAPS)
def test_a_warm_sitemap_runs_no_query(client, product, url, django_assert_num_queries):
    cold = client.get(url)

    with django_assert_num_queries(0):
        warm = client.get(url)

    assert warm.status_code == cold.status_code == 200
    assert warm.content == cold.content
    assert warm["X-Robots-Tag"] == cold["X-Robots-Tag"]


def test_the_sitemap_lives_as_long_as_the_catalog_it_lists(product):
    assert SITEMAP_PAGES.spec.ttl >= 3600
    assert set(SITEMAP_PAGES.spec.depends_on) == {
        "catalog.category_tree",
        "catalog.listing",
        "catalog.product",
    }


def test_a_new_product_is_in_the_sitemap_on_the_next_request(
    client, product, category, django_capture_on_commit_callbacks
):
    assert locations(client.get("/sitemap-products.xml")) == ["http://testserver/p/trail-runner/"]

    with django_capture_on_commit_callbacks(execute=True):
        products_import(
            products=[
                ProductInput(
                    name="Camp Stove",
                    slug="camp-stove",
                    category_slug=category.slug,
                    brand_slug=product.brand.slug,
                    description="",
                    image_urls=(),
                    popularity=1,
                    variants=(VariantInput(sku="STOVE-1", name="Stove", attributes={}),),
                )
            ]
        )

    assert sorted(locations(client.get("/sitemap-products.xml"))) == [
        "http://testserver/p/camp-stove/",
        "http://testserver/p/trail-runner/",
    ]


def test_a_renamed_product_is_listed_under_its_new_slug_on_the_next_request(
    client, product, django_capture_on_commit_callbacks
):
    client.get("/sitemap-products.xml")

    with django_capture_on_commit_callbacks(execute=True):
        product_change_slug(product_id=product.pk, new_slug="trail-runner-2")

    assert locations(client.get("/sitemap-products.xml")) == ["http://testserver/p/trail-runner-2/"]


def test_price_and_stock_changes_leave_the_sitemap_cached(
    client, product, django_capture_on_commit_callbacks
):
    # given the sitemap cached
    client.get("/sitemap-products.xml")
    before = misses()

    # when a price and the stock change (which retire every page showing them)
    variant = product.variants.get()
    with django_capture_on_commit_callbacks(execute=True):
        prices_import(
            price_list_code="base",
            prices=[PriceInput(variant_id=variant.pk, amount=Decimal("24.50"))],
        )
        stock_receive(receipts=[StockReceipt(variant_id=variant.pk, quantity=5)], reference="t")
    response = client.get("/sitemap-products.xml")

    # then the sitemap is still answered from its entry
    assert response.status_code == 200
    assert misses() == before


@pytest.fixture
def fresh_schema():
    schema_rendered.cache_clear()
    yield
    schema_rendered.cache_clear()


@pytest.mark.usefixtures("fresh_schema")
def test_the_schema_is_generated_once_per_process_and_format(client, db, monkeypatch):
    generated = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        generated.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)

    yamls = [client.get("/api/schema/") for _ in range(3)]
    jsons = [client.get("/api/schema/?format=json") for _ in range(3)]

    assert len(generated) == 2  # one per format, however many requests
    assert {response.content for response in yamls} == {yamls[0].content}
    assert yamls[0]["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert jsons[0]["Content-Type"] == "application/vnd.oai.openapi+json"
    assert yaml.safe_load(yamls[0].content) == jsons[0].json()
    assert "/api/v1/orders/" in jsons[0].json()["paths"]


@pytest.mark.usefixtures("fresh_schema")
def test_the_served_schema_is_the_one_the_code_generates(client, db):
    served = yaml.safe_load(client.get("/api/schema/").content)

    assert served["info"]["title"] == "Peakstore API"
    assert "## Errors" in served["info"]["description"]  # the schema's own settings


@pytest.mark.usefixtures("fresh_schema")
def test_the_schema_ignores_request_chosen_versions_and_languages(client, db):
    plain = client.get("/api/schema/").content

    assert client.get("/api/schema/?version=evil").content == plain
    assert client.get("/api/schema/?lang=de").content == plain
    assert schema_rendered.cache_info().currsize == 1


@pytest.mark.usefixtures("fresh_schema")
def test_an_unchanged_schema_is_a_304(client, db):
    etag = client.get("/api/schema/")["ETag"]

    response = client.get("/api/schema/", headers={"If-None-Match": etag})

    assert response.status_code == 304
