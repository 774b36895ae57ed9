"""The catalog snapshot a run picks from, with Zipf-skewed picks.

The runner writes the snapshot from the database before Locust starts (see
`devstack/snapshot.py`) and passes its path in PEAKSTORE_CATALOG_SNAPSHOT, so
users never guess slugs and Locust needs no database access. Products carry their
seeded popularity, which follows a Zipf law: weighted picks make a few products hot,
as in a real campaign.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SNAPSHOT_ENV = "PEAKSTORE_CATALOG_SNAPSHOT"
T = TypeVar("T")
Record = TypeVar("Record", bound="DataclassInstance")


@dataclass(frozen=True)
class Weighted(Generic[T]):
    """Items picked in proportion to their weights, in O(log n) per pick."""

    items: tuple[T, ...]
    weights: tuple[float, ...]

    @cached_property
    def _cumulative(self) -> list[float]:
        return list(itertools.accumulate(self.weights))

    def pick(self, rng: random.Random) -> T:
        return rng.choices(self.items, cum_weights=self._cumulative)[0]

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Category:
    slug: str
    brands: tuple[str, ...]
    pages: int


@dataclass(frozen=True)
class Product:
    slug: str
    skus: tuple[str, ...]  # in-stock SKUs when the snapshot was taken


@dataclass(frozen=True)
class CatalogSnapshot:
    categories: Weighted[Category]
    products: Weighted[Product]
    buyable: Weighted[Product]
    search_terms: Weighted[str]

    @property
    def buyable_skus(self) -> list[str]:
        """Every in-stock SKU of the buyable products, in snapshot order."""
        return [sku for product in self.buyable.items for sku in product.skus]

    @property
    def hot_product(self) -> Product:
        """The most popular buyable product: what a flash sale puts on offer."""
        return max(zip(self.buyable.weights, self.buyable.items, strict=True))[1]


def _weighted(rows: Sequence[dict], make: type[Record]) -> Weighted[Record]:
    fields = {field.name for field in dataclass_fields(make)}
    items = tuple(make(**{k: v for k, v in row.items() if k in fields}) for row in rows)
    # Every entry keeps a chance: a weight of 0 would make it unreachable.
    return Weighted(items, tuple(max(float(row["weight"]), 1.0) for row in rows))


def snapshot_from_dict(data: dict) -> CatalogSnapshot:
    categories = [
        {**row, "brands": tuple(row["brands"]), "weight": row["products"]}
        for row in data["categories"]
    ]
    products = [{**row, "skus": tuple(row["skus"])} for row in data["products"]]
    snapshot = CatalogSnapshot(
        categories=_weighted(categories, Category),
        products=_weighted(products, Product),
        buyable=_weighted([row for row in products if row["skus"]], Product),
        # Terms come most frequent first; a Zipf law over their rank, as real queries are.
        search_terms=Weighted(
            tuple(data["search_terms"]),
            tuple(1.0 / rank for rank in range(1, len(data["search_terms"]) + 1)),
        ),
    )
    if not (snapshot.categories and snapshot.products and snapshot.search_terms):
        raise ValueError("the catalog snapshot is empty: seed the store first")
    return snapshot


def snapshot_load(path: str | Path | None = None) -> CatalogSnapshot:
    """Load the snapshot the runner wrote (PEAKSTORE_CATALOG_SNAPSHOT by default)."""
    path = path or os.environ.get(SNAPSHOT_ENV)
    if not path:
        raise RuntimeError(f"{SNAPSHOT_ENV} is not set; run Locust through `manage.py loadtest`")
    return snapshot_from_dict(json.loads(Path(path).read_text()))
