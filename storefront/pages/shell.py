"""The page shell every storefront view renders through: SEO metadata and the header nav."""

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe

from catalog.interface import CategoryRef, category_tree

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

# What json_script escapes, so a product name cannot close the <script> element.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@dataclass(frozen=True)
class PageMeta:
    title: str
    description: str
    canonical_url: str
    robots: str = ""


def page_meta(
    request: HttpRequest,
    *,
    title: str,
    description: str,
    canonical_path: str | None = None,
    robots: str = "",
) -> PageMeta:
    """Describe a page for search engines; the canonical URL defaults to the bare path."""
    return PageMeta(
        title=title,
        description=" ".join(description.split())[:160],
        canonical_url=request.build_absolute_uri(canonical_path or request.path),
        robots=robots,
    )


def private_meta(request: HttpRequest, *, title: str) -> PageMeta:
    """Describe a page that belongs to one visitor and must never be indexed."""
    return page_meta(request, title=title, description=title, robots="noindex")


def top_level_categories(tree: tuple[CategoryRef, ...]) -> tuple[CategoryRef, ...]:
    return tuple(category for category in tree if category.parent_id is None)


def render_page(
    request: HttpRequest,
    template: str,
    *,
    meta: PageMeta,
    status: int = 200,
    tree: tuple[CategoryRef, ...] | None = None,
    **context: Any,
) -> HttpResponse:
    """Render a page inside the store layout.

    Costs one query for the category nav, unless the caller already holds the tree.
    """
    tree = category_tree() if tree is None else tree
    return render(
        request,
        template,
        {
            "meta": meta,
            "nav_categories": top_level_categories(tree),
            "currency_symbol": currency_symbol(),
            **context,
        },
        status=status,
    )


def currency_symbol() -> str:
    return CURRENCY_SYMBOLS.get(settings.STORE_CURRENCY, f"{settings.STORE_CURRENCY} ")


def json_ld(data: dict[str, Any]) -> SafeString:
    """Serialise structured data for a `<script type="application/ld+json">` element."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    # Safe once <, > and & are escaped: the text can no longer end the element.
    return mark_safe(text.translate(_JSON_SCRIPT_ESCAPES))
