import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client, override_settings

from tests.factories import CategoryFactory, stocked_product

SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def locations(response) -> list[str]:
    return [node.text for node in ET.fromstring(response.content).findall(".//sm:loc", SITEMAP_NS)]


def without_csrf(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_robots_txt_disallows_personal_pages_and_names_the_sitemap(client, db):
    # when
    response = client.get("/robots.txt")

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    for path in ("/cart/", "/checkout/", "/orders/", "/api/", "/admin/"):
        assert f"Disallow: {path}\n" in body
    assert "Sitemap: http://testserver/sitemap.xml\n" in body


def test_sitemap_index_links_product_and_category_sitemaps(client, product):
    # when
    response = client.get("/sitemap.xml")

    # then
    assert response.status_code == 200
    assert sorted(locations(response)) == [
        "http://testserver/sitemap-categories.xml",
        "http://testserver/sitemap-products.xml",
    ]


def test_sitemaps_list_every_product_and_category(client, product, category):
    # given
    CategoryFactory(name="Tents", slug="tents", parent=category)
    stocked_product(category=category, slug="camp-stove")

    # when
    products = client.get("/sitemap-products.xml")
    categories = client.get("/sitemap-categories.xml")

    # then
    assert sorted(locations(products)) == [
        "http://testserver/p/camp-stove/",
        "http://testserver/p/trail-runner/",
    ]
    assert b"<lastmod>" in products.content
    assert sorted(locations(categories)) == [
        "http://testserver/c/outdoor/",
        "http://testserver/c/tents/",
    ]


def test_every_sitemap_url_answers_200(client, product, category):
    for url in locations(client.get("/sitemap-products.xml")) + locations(
        client.get("/sitemap-categories.xml")
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("/", "http://testserver/"),
        ("/c/outdoor/?sort=name&brand=x", "http://testserver/c/outdoor/"),
        ("/p/trail-runner/?utm_source=mail", "http://testserver/p/trail-runner/"),
        ("/search/?q=trail++runner&utm=1", "http://testserver/search/?q=trail+runner"),
    ],
)
def test_public_pages_carry_canonical_title_and_description(client, product, url, canonical):
    # when
    html = client.get(url).content.decode()

    # then
    assert f'<link rel="canonical" href="{canonical}">' in html
    assert re.search(r"<title>[^<]+\| Peakstore</title>", html)
    assert re.search(r'<meta name="description" content="[^"]{20,}">', html)


def test_public_catalog_pages_are_indexable(client, product):
    for url in ("/", "/c/outdoor/", "/p/trail-runner/"):
        assert '<meta name="robots"' not in client.get(url).content.decode(), url


@pytest.mark.parametrize("url", ["/cart/", "/checkout/"])
def test_personal_pages_are_noindex_and_never_cached(shopper, url):
    response = shopper.get(url)

    assert '<meta name="robots" content="noindex">' in response.content.decode()
    assert "private" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]


def test_public_pages_render_the_same_for_every_visitor(shopper):
    # The cart cookie and session must not change a public page, so those pages stay
    # cacheable for everyone. Only the CSRF token of the add-to-cart form differs.
    anonymous = Client()
    for url in ("/", "/c/outdoor/", "/p/trail-runner/"):
        mine, theirs = shopper.get(url), anonymous.get(url)
        assert without_csrf(mine) == without_csrf(theirs), url
        assert "private" not in mine.get("Cache-Control", ""), url


@override_settings(DEBUG=False)
def test_server_errors_render_the_store_500_page(db, monkeypatch):
    # given a page that crashes
    from storefront.pages.views import browse

    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(browse, "product_cards_popular", crash)
    client = Client(raise_request_exception=False)

    # when
    response = client.get("/")

    # then
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_unknown_api_paths_answer_with_the_api_error_shape(client, db):
    response = client.get("/api/v1/no-such-endpoint/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_no_template_has_a_multi_line_comment_tag():
    # Django's {# #} comments end at the line: a multi-line one is shown to visitors.
    import re
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "storefront" / "templates"
    offenders = [
        str(path)
        for path in templates.rglob("*.html")
        if any("\n" in body for body in re.findall(r"\{#(.*?)#\}", path.read_text(), re.S))
    ]

    assert offenders == []
