"""Cached fragments of public pages.

A page entry is keyed by its URL's declared parameters, so two pages showing the same
cards (`?sort=popular` and no sort, `?page=1` and none, another host name) render twice;
the grid fragment is keyed by the cards themselves, so they share it, and so does a page
whose entry was retired by a bump of something it shows beside the grid (the category
tree).
"""

import hashlib
from collections.abc import Sequence

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from catalog.interface import ProductCard
from storefront.caches import FRAGMENTS
from storefront.offers import card_offers
from storefront.pages.shell import currency_symbol


def product_grid(request: HttpRequest, cards: Sequence[ProductCard]) -> SafeString:
    """Render a listing's cards with their prices and stock; two queries on a miss."""
    ids = ",".join(str(card.id) for card in cards)
    key = "grid:" + hashlib.blake2b(ids.encode(), digest_size=16).hexdigest()

    def render() -> SafeString:
        html = render_to_string(
            "storefront/_grid.html",
            {"offers": card_offers(cards), "currency_symbol": currency_symbol()},
            request=request,
        )
        return mark_safe(html)  # rendered by the template engine, which escaped it

    return FRAGMENTS.get_or_compute(key, render)
