"""Deterministic demo data: a realistic catalog that every owning app writes itself.

The generator is pure (a seed in, plain records out); `seed_store` hands the records to
each app's import service, so seeding goes through the same write paths as real imports.
Popularity follows a Zipf law, so a few products are hot, as in real campaigns.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.utils.text import slugify

from catalog.interface import BrandInput, CategoryInput, ProductInput, VariantInput

TREE: dict[str, dict[str, tuple[str, ...]]] = {
    "Outdoor": {
        "Tents": ("tent", "shelter", "tarp"),
        "Sleeping Bags": ("sleeping bag", "quilt", "liner"),
        "Backpacks": ("backpack", "daypack", "duffel"),
        "Camp Kitchen": ("stove", "pot set", "mug"),
        "Lighting": ("headlamp", "lantern", "torch"),
        "Navigation": ("compass", "GPS unit", "map case"),
        "Climbing": ("harness", "helmet", "chalk bag"),
    },
    "Footwear": {
        "Running Shoes": ("running shoe", "racing flat", "trainer"),
        "Hiking Boots": ("hiking boot", "approach shoe", "mountain boot"),
        "Sandals": ("sandal", "slide", "water shoe"),
        "Casual Shoes": ("sneaker", "loafer", "canvas shoe"),
        "Socks": ("merino sock", "running sock", "liner sock"),
        "Insoles": ("insole", "arch support", "heel cup"),
        "Shoe Care": ("waterproofing spray", "brush kit", "lace set"),
    },
    "Apparel": {
        "Jackets": ("rain jacket", "down jacket", "softshell"),
        "Fleece": ("fleece", "hoodie", "mid layer"),
        "T-Shirts": ("t-shirt", "tank top", "long sleeve"),
        "Trousers": ("hiking trousers", "joggers", "shorts"),
        "Base Layers": ("base layer top", "base layer bottom", "neck gaiter"),
        "Hats & Gloves": ("beanie", "cap", "gloves"),
        "Swimwear": ("swim shorts", "swimsuit", "rash guard"),
    },
    "Electronics": {
        "Headphones": ("headphones", "earbuds", "sport earphones"),
        "Speakers": ("speaker", "soundbar", "radio"),
        "Watches": ("GPS watch", "fitness tracker", "smartwatch"),
        "Cameras": ("action camera", "compact camera", "camera mount"),
        "Power": ("power bank", "solar panel", "charger"),
        "Phone Accessories": ("phone case", "screen protector", "bike mount"),
        "Drones": ("drone", "drone battery", "propeller set"),
    },
    "Home": {
        "Kitchen": ("chef knife", "frying pan", "coffee grinder"),
        "Lamps": ("desk lamp", "floor lamp", "string lights"),
        "Bedding": ("duvet", "pillow", "bed sheet set"),
        "Storage": ("storage box", "shelf", "hook rail"),
        "Bath": ("towel", "bath mat", "shower caddy"),
        "Decor": ("vase", "picture frame", "cushion"),
        "Garden": ("planter", "hose", "garden chair"),
    },
    "Sports": {
        "Cycling": ("bike helmet", "bike light", "cycling jersey"),
        "Fitness": ("kettlebell", "resistance band", "jump rope"),
        "Yoga": ("yoga mat", "yoga block", "yoga strap"),
        "Team Sports": ("football", "basketball", "shin guards"),
        "Racket Sports": ("tennis racket", "padel racket", "shuttlecock set"),
        "Water Sports": ("paddle board", "snorkel set", "dry bag"),
        "Winter Sports": ("ski goggles", "snowboard", "ski gloves"),
    },
}
# A third level under two busy categories, so subtree queries are exercised.
GRANDCHILDREN: dict[str, tuple[str, ...]] = {
    "Running Shoes": ("Trail Running Shoes", "Road Running Shoes"),
}

BRAND_SYLLABLES = (
    "alp", "bor", "cas", "del", "eri", "fal", "gra", "hel", "ist", "jor", "kar", "lum",
    "mon", "nor", "ori", "pek", "qua", "ros", "sol", "tun", "ulv", "ves", "wil", "yar",
)  # fmt: skip
ADJECTIVES = (
    "Alpine", "Summit", "Trail", "Urban", "Coastal", "Nordic", "Storm", "Ridge", "Glacier",
    "Canyon", "Aero", "Terra", "Swift", "Ember", "Polar", "Drift", "Vista", "Pulse",
    "Nimbus", "Granite", "Cedar", "Falcon", "Lumen", "Orbit",
)  # fmt: skip
MODELS = ("Pro", "Lite", "Max", "Air", "X", "2", "3", "Plus", "Evo", "Classic", "GTX", "Ultra")
COLOURS = ("black", "navy", "red", "green", "grey", "white", "orange", "blue")
SIZES = ("XS", "S", "M", "L", "XL")
SHOE_SIZES = ("38", "39", "40", "41", "42", "43", "44", "45")
ROOT_PRICE_RANGES: dict[str, tuple[int, int]] = {
    "Outdoor": (15, 600),
    "Footwear": (10, 260),
    "Apparel": (12, 380),
    "Electronics": (20, 900),
    "Home": (8, 450),
    "Sports": (8, 700),
}
COUPONS = (("WELCOME10", "percent", Decimal("10"), None), ("FLASH50", "fixed", Decimal("50"), 100))


@dataclass(frozen=True)
class SeedProduct:
    product: ProductInput
    root: str
    base_prices: tuple[Decimal, ...]
    stock: tuple[int, ...]


def categories() -> list[CategoryInput]:
    """The category tree, parents before children (about 50 nodes)."""
    rows = []
    for root, children in TREE.items():
        rows.append(CategoryInput(name=root, slug=slugify(root), description=f"All {root}."))
        for child in children:
            rows.append(CategoryInput(name=child, slug=slugify(child), parent_slug=slugify(root)))
            for grandchild in GRANDCHILDREN.get(child, ()):
                rows.append(
                    CategoryInput(
                        name=grandchild, slug=slugify(grandchild), parent_slug=slugify(child)
                    )
                )
    return rows


def brands(rng: random.Random, count: int = 40) -> list[BrandInput]:
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.sample(BRAND_SYLLABLES, 2)).capitalize())
    return [BrandInput(name=name, slug=slugify(name)) for name in sorted(names)]


def _leaf_categories() -> list[tuple[str, str, tuple[str, ...]]]:
    """(root, leaf slug, nouns) for every category products are filed under."""
    leaves = []
    for root, children in TREE.items():
        for child, nouns in children.items():
            for grandchild in GRANDCHILDREN.get(child, ()):
                leaves.append((root, slugify(grandchild), nouns))
            if child not in GRANDCHILDREN:
                leaves.append((root, slugify(child), nouns))
    return leaves


def _variants(rng: random.Random, root: str, sku_prefix: str) -> tuple[VariantInput, ...]:
    count = rng.choices((1, 2, 3, 4, 5), weights=(30, 20, 25, 15, 10))[0]
    if root == "Footwear":
        options = [{"size": size} for size in rng.sample(SHOE_SIZES, count)]
    elif root == "Apparel":
        colour = rng.choice(COLOURS)
        options = [{"size": size, "colour": colour} for size in rng.sample(SIZES, count)]
    else:
        options = [{"colour": colour} for colour in rng.sample(COLOURS, count)]
    return tuple(
        VariantInput(
            sku=f"{sku_prefix}-{index + 1}",
            name=" / ".join(value.upper() if len(value) <= 3 else value for value in o.values()),
            attributes=o,
        )
        for index, o in enumerate(options)
    )


def products(rng: random.Random, *, count: int, brand_slugs: list[str]) -> Iterator[SeedProduct]:
    """Yield `count` products spread over the leaf categories, Zipf-popular."""
    leaves = _leaf_categories()
    # Zipf: the product at popularity rank r gets weight ~ 1/r. Ranks are shuffled so
    # hot products are spread across categories.
    ranks = list(range(1, count + 1))
    rng.shuffle(ranks)
    for index in range(count):
        root, leaf_slug, nouns = leaves[rng.randrange(len(leaves))]
        noun = rng.choice(nouns)
        name = f"{rng.choice(ADJECTIVES)} {noun.capitalize()} {rng.choice(MODELS)}"
        slug = f"{slugify(name)}-{index + 1}"
        sku_prefix = f"PS{index + 1:06d}"
        variants = _variants(rng, root, sku_prefix)
        low, high = ROOT_PRICE_RANGES[root]
        base = Decimal(str(round(rng.uniform(low, high)))) - Decimal("0.10")
        prices = tuple(
            max(Decimal("0.90"), base + Decimal(rng.choice((0, 0, 5, 10)))) for _ in variants
        )
        # Roughly 1 SKU in 12 is sold out; hot products get deeper stock.
        stock = tuple(0 if rng.random() < 0.08 else rng.randint(5, 250) for _ in variants)
        yield SeedProduct(
            product=ProductInput(
                name=name,
                slug=slug,
                category_slug=leaf_slug,
                brand_slug=rng.choice(brand_slugs),
                description=(
                    f"The {name} is a {noun} built for everyday use and long trips alike. "
                    f"Tested by our team in all weathers, it balances weight, durability "
                    f"and comfort."
                ),
                image_urls=(f"/static/catalog/placeholders/{slugify(root)}.svg",),
                popularity=int(1_000_000 / ranks[index]),
                variants=variants,
            ),
            root=root,
            base_prices=prices,
            stock=stock,
        )
