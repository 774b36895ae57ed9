"""What the simulated upstreams know of the store's catalog, without importing Django.

Given a catalog snapshot (`--catalog PATH`, the JSON `devstack.snapshot` writes),
recommendations point at real products of the same category and stock and prices cover
real SKUs. Without one, everything is generated from the slug or SKU and the seed, so
any product gets plausible, stable answers. Either way an answer depends only on the
seed and the key asked about: the same question gets the same answer on every run.

Given books (`--books PATH`, the JSON `devstack.snapshot.simulator_books_write` writes
when a store is seeded), the PIM's price and the ERP's stock of a SKU are the ones the
store was seeded with, so the store and its systems of record start out agreeing.
"""

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_WORDS = [
    "trail",
    "alpine",
    "summit",
    "ridge",
    "canyon",
    "harbor",
    "forest",
    "meadow",
    "glacier",
    "coast",
    "storm",
    "ember",
    "granite",
    "cedar",
    "river",
]
_KINDS = [
    "jacket",
    "boots",
    "pack",
    "tent",
    "lantern",
    "bottle",
    "gloves",
    "shell",
    "stove",
    "poles",
]


@dataclass(frozen=True)
class SnapshotProduct:
    slug: str
    name: str
    category: int | None
    weight: float
    skus: tuple[str, ...]


class SimCatalog:
    """Products by slug and category, from a snapshot, or none (generate everything)."""

    def __init__(
        self,
        products: list[SnapshotProduct],
        *,
        seed: int,
        prices: dict[str, str] | None = None,
        stock: dict[str, int] | None = None,
    ) -> None:
        self.seed = seed
        self.prices = prices or {}  # SKU -> list price, from the books
        self.stock = stock or {}  # SKU -> units on hand when the store was seeded
        self.products = {product.slug: product for product in products}
        self.by_category: dict[int | None, list[SnapshotProduct]] = {}
        for product in products:
            self.by_category.setdefault(product.category, []).append(product)

    @classmethod
    def load(cls, path: Path | None, *, seed: int, books: Path | None = None) -> "SimCatalog":
        """Read a catalog snapshot and books; None gives a catalog that generates answers."""
        data = json.loads(Path(path).read_text()) if path is not None else {}
        booked = json.loads(Path(books).read_text()) if books is not None else {}
        return cls(
            [_product(entry) for entry in data.get("products", [])],
            seed=seed,
            prices={str(sku): str(amount) for sku, amount in booked.get("prices", {}).items()},
            stock={str(sku): int(units) for sku, units in booked.get("stock", {}).items()},
        )

    def rng(self, *key: str) -> random.Random:
        """A random stream for one question: the same seed and key, the same answers."""
        digest = hashlib.sha256(":".join((str(self.seed), *key)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def related(self, slug: str, *, limit: int) -> list[dict[str, Any]]:
        """Products bought with this one: same category first, by popularity, then others."""
        rng = self.rng("related", slug)
        product = self.products.get(slug)
        if product is None:
            return [_generated_related(slug, rng, rank) for rank in range(limit)]
        pool = [p for p in self.by_category.get(product.category, []) if p.slug != slug]
        if len(pool) < limit:
            pool += [p for p in self.products.values() if p.slug != slug and p not in pool]
        chosen: list[SnapshotProduct] = []
        while pool and len(chosen) < limit:
            pick = rng.choices(pool, weights=[max(p.weight, 0.01) for p in pool])[0]
            pool.remove(pick)
            chosen.append(pick)
        return [
            {"slug": p.slug, "name": p.name, "score": round(1 - rank / (limit + 1), 3)}
            for rank, p in enumerate(chosen)
        ]


def _product(entry: dict[str, Any]) -> SnapshotProduct:
    return SnapshotProduct(
        slug=entry["slug"],
        name=entry.get("name") or entry["slug"].replace("-", " ").title(),
        category=entry.get("category_id"),
        weight=float(entry.get("weight") or 1),
        skus=tuple(entry.get("skus") or ()),
    )


def _generated_related(slug: str, rng: random.Random, rank: int) -> dict[str, Any]:
    name = f"{rng.choice(_WORDS).title()} {rng.choice(_KINDS)} {rng.randint(1, 99)}"
    return {
        "slug": name.lower().replace(" ", "-"),
        "name": name,
        "score": round(0.95 - rank * 0.1, 3),
    }
