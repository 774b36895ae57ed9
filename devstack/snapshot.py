"""Write the catalog snapshot Locust users pick from (read by `loadtests/catalog.py`).

Taken from the database just before a run, through each app's public interface, so a run
requests only slugs and SKUs that exist and needs no database access of its own.
"""

import json
import re
from collections import Counter
from pathlib import Path

from catalog.interface import (
    brand_facets_for_category,
    category_tree,
    product_cards_for_category,
    product_cards_popular,
    variant_sku_batches,
    variants_by_ids,
)
from inventory.interface import availability_for_variants, stock_levels
from pricing.interface import prices_on_list

_WORD = re.compile(r"[a-z]{4,}")


def catalog_snapshot(*, product_limit: int = 2000, search_term_limit: int = 60) -> dict:
    """Return categories, the most popular products with in-stock SKUs, and search terms.

    About four queries per category and four in all for the products: run it once per run.
    """
    categories = []
    for category in category_tree():
        page = product_cards_for_category(category=category, per_page=24)
        if not page.count:
            continue
        brands = brand_facets_for_category(category=category)[:5]
        categories.append(
            {
                "slug": category.slug,
                "products": page.count,
                "pages": page.num_pages,
                "brands": [facet.brand.slug for facet in brands],
            }
        )
    cards = product_cards_popular(limit=product_limit)
    variant_ids = [variant_id for card in cards for variant_id in card.variant_ids]
    available = availability_for_variants(variant_ids=variant_ids)
    in_stock = variants_by_ids(variant_ids=[v for v in variant_ids if available.get(v, 0) > 0])
    products = [
        {
            "slug": card.slug,
            # Name and category let the upstream simulator recommend real neighbours.
            "name": card.name,
            "category_id": card.category_id,
            "weight": card.popularity,
            "skus": [in_stock[v].sku for v in card.variant_ids if v in in_stock],
        }
        for card in cards
    ]
    words = Counter(word for card in cards for word in _WORD.findall(card.name.lower()))
    return {
        "categories": categories,
        "products": products,
        "search_terms": [word for word, _ in words.most_common(search_term_limit)],
    }


def catalog_snapshot_write(*, path: Path, product_limit: int = 2000) -> dict:
    """Write the snapshot as JSON to `path`; return a count of what it holds."""
    snapshot = catalog_snapshot(product_limit=product_limit)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snapshot, indent=1))
    return {
        "categories": len(snapshot["categories"]),
        "products": len(snapshot["products"]),
        "buyable": sum(1 for product in snapshot["products"] if product["skus"]),
        "search_terms": len(snapshot["search_terms"]),
    }


def simulator_books_write(*, path: Path, batch_size: int = 1000) -> int:
    """Write what the simulated PIM and ERP start from: every SKU's base price and on
    hand, as the store was seeded; return how many SKUs.

    Call right after seeding a new store: the ERP then ships the units of each order
    it books, so its level and the store's agree as orders flow, and a sync finds
    nothing to change until something drifts. Two queries per batch, keyset reads.
    """
    prices: dict[str, str] = {}
    stock: dict[str, int] = {}
    for batch in variant_sku_batches(batch_size=batch_size):
        amounts = prices_on_list(price_list_code="base", variant_ids=list(batch))
        levels = stock_levels(variant_ids=list(batch))
        for variant_id, sku in batch.items():
            if variant_id in amounts:
                prices[sku] = str(amounts[variant_id])
            stock[sku] = levels[variant_id].on_hand if variant_id in levels else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"prices": prices, "stock": stock}))
    return len(stock)
