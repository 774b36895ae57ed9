"""Search-engine plumbing: structured data, robots.txt and the sitemaps."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps import views as sitemap_views
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.safestring import SafeString
from django.views.decorators.http import require_safe

from catalog.interface import (
    ProductDetail,
    SitemapEntry,
    category_sitemap_entries,
    product_sitemap_entries,
)
from storefront.caches import SITEMAP_PAGES
from storefront.offers import VariantOffer
from storefront.page_cache import cached_page
from storefront.pages.shell import json_ld
from toolkit.query import Param, QuerySpec, whole_number

# Personal or machine pages: nothing there a search engine should index.
ROBOTS_DISALLOW = ("/cart/", "/checkout/", "/orders/", "/api/", "/admin/")


def product_json_ld(
    request: HttpRequest, *, product: ProductDetail, offers: Sequence[VariantOffer]
) -> SafeString:
    """Build schema.org Product markup with one Offer per priced variant."""
    url = request.build_absolute_uri(reverse("pages:product", kwargs={"slug": product.slug}))
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "description": product.description,
        "url": url,
        "brand": {"@type": "Brand", "name": product.brand.name},
        "category": " > ".join(crumb.name for crumb in product.breadcrumbs),
        "image": [request.build_absolute_uri(image.url) for image in product.images],
        "offers": [
            {
                "@type": "Offer",
                "sku": offer.variant.sku,
                "name": offer.variant.name,
                "price": str(offer.price),
                "priceCurrency": settings.STORE_CURRENCY,
                "availability": "https://schema.org/"
                + ("InStock" if offer.available > 0 else "OutOfStock"),
                "url": url,
            }
            for offer in offers
            if offer.price is not None
        ],
    }
    if len(product.variants) == 1:
        data["sku"] = product.variants[0].sku
    return json_ld(data)


@require_safe
@cached_page(QuerySpec())
def robots_txt(request: HttpRequest) -> HttpResponse:
    """Tell crawlers what to skip and where the sitemap is."""
    lines = [
        "User-agent: *",
        *(f"Disallow: {path}" for path in ROBOTS_DISALLOW),
        "",
        f"Sitemap: {request.build_absolute_uri(reverse('pages:sitemap-index'))}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


class ProductSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.8

    def items(self) -> list[SitemapEntry]:
        return self._entries

    @cached_property
    def _entries(self) -> list[SitemapEntry]:
        # The paginator needs a sized sequence, and the index asks for the items twice
        # (page count, latest lastmod): read them once per request. A few MB at 100k.
        return list(product_sitemap_entries())

    def location(self, item: SitemapEntry) -> str:
        return reverse("pages:product", kwargs={"slug": item.slug})

    def lastmod(self, item: SitemapEntry) -> datetime | None:
        return item.updated_at


class CategorySitemap(Sitemap):
    changefreq = "daily"
    priority = 0.6

    def items(self) -> list[SitemapEntry]:
        return list(category_sitemap_entries())

    def location(self, item: SitemapEntry) -> str:
        return reverse("pages:category", kwargs={"slug": item.slug})


SITEMAPS = {"categories": CategorySitemap, "products": ProductSitemap}


# Sitemaps list every product (a few MB at 100k): crawlers fetch them often, and an
# entry of their own namespace lives until the catalog it lists changes. Sections page
# with `?p=`.
SITEMAP_QUERY = QuerySpec(
    Param("p", whole_number(minimum=1, maximum=1_000_000), strict=True, invalid_status=404)
)
sitemap_index = require_safe(cached_page(QuerySpec(), pages=SITEMAP_PAGES)(sitemap_views.index))
sitemap_section = require_safe(
    cached_page(SITEMAP_QUERY, pages=SITEMAP_PAGES)(sitemap_views.sitemap)
)
