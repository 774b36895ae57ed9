"""The registry: every namespace declared once by its owner, documented, and only the
owner may write or invalidate it."""

import importlib
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from tests.toolkit.caches import DEPENDENT, HOT
from toolkit.cache import CacheOwnershipError, reader, registry
from toolkit.cache.docs import registry_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "caches.md"
STORE_NAMESPACES = {
    "catalog.category_tree",
    "catalog.listing",
    "catalog.product",
    "inventory.availability",
    "pricing.price",
    "pricing.promotions",
    "search.documents",
    "storefront.fragment",
    "storefront.page",
    "storefront.search_page",
    "storefront.sitemap",
}


def as_module(name: str, source: str) -> dict:
    """Run `source` as if it were the module `name` (what the ownership check looks at)."""
    namespace = {"__name__": name}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace


def test_every_app_declares_its_caches_in_one_place():
    assert {spec.namespace for spec in registry.specs()} >= STORE_NAMESPACES
    for spec in registry.specs():
        assert spec.namespace.startswith(f"{spec.owner}.")


def test_every_named_invalidating_write_exists_in_its_owner():
    for spec in registry.specs():
        writes = [write for write in spec.invalidated_by if not write.startswith("(")]
        if writes:
            services = importlib.import_module(f"{spec.owner}.services")
        for write in writes:
            assert callable(getattr(services, write, None)), (spec.namespace, write)


def test_cache_registry_prints_every_namespace(capsys):
    call_command("cache_registry")

    printed = capsys.readouterr().out
    for namespace in STORE_NAMESPACES:
        assert f"namespace            {namespace}\n" in printed


def test_the_committed_docs_are_generated_from_the_registry():
    assert DOCS.read_text() == registry_markdown(registry), (
        "docs/caches.md is out of date: python manage.py cache_registry --markdown docs/caches.md"
    )


SNEAKY_DECLARATION = """
from toolkit.cache import CacheSpec, Stampede, declare

declare(
    CacheSpec(
        namespace="pricing.sneaky",
        owner="pricing",
        entity="-",
        key_schema="-",
        ttl=1,
        invalidated_by=("prices_import",),
        staleness_tolerance=0,
        stampede=Stampede.BATCH,
    )
)
"""


@pytest.mark.parametrize("module", ["pricing.selectors", "storefront.caches", "tests.caches"])
def test_only_the_owners_caches_module_may_declare(module):
    with pytest.raises(CacheOwnershipError, match=r"declare it in pricing\.caches"):
        as_module(module, SNEAKY_DECLARATION)


HANDLES = """
from catalog.caches import PRODUCTS
from inventory.caches import AVAILABILITY
from pricing.caches import PRICES
"""


@pytest.mark.parametrize(
    "write",
    [
        "PRICES.invalidate_on_commit()",
        "PRICES.set_many({1: ()}, version=PRICES.version())",
        "PRICES.get_many_or_compute([1], lambda missing: {})",
        "AVAILABILITY.invalidate_on_commit()",
        "PRODUCTS.get_or_compute('slug', lambda: None)",
    ],
)
def test_another_app_cannot_write_or_invalidate_an_owners_entries(write):
    # given storefront code that got hold of other apps' handles (import-linter forbids
    # the import; this is the runtime check behind it), when it writes, then
    with pytest.raises(CacheOwnershipError, match=r"may read .* but not write"):
        as_module("storefront.pages.views.rogue", HANDLES + write)


def test_another_app_can_read_an_owners_entries():
    HOT.get_or_compute("shared", lambda: 42)

    view = as_module(
        "storefront.pages.views.reader",
        "from tests.toolkit.caches import registry\n"
        "value = registry.reader('tests.hot').get('shared')",
    )

    assert view["value"] == 42


def test_the_store_registry_hands_out_read_only_views():
    view = reader("pricing.price")

    assert not hasattr(view, "invalidate_on_commit")
    assert not hasattr(view, "set_many")


def test_a_bump_retires_the_namespace_and_its_dependents(db, django_capture_on_commit_callbacks):
    HOT.get_or_compute("a", lambda: "hot v1")
    DEPENDENT.get_or_compute("a", lambda: "dependent v1")

    with django_capture_on_commit_callbacks(execute=True):
        HOT.invalidate_on_commit()

    assert HOT.get_or_compute("a", lambda: "hot v2") == "hot v2"
    assert DEPENDENT.get_or_compute("a", lambda: "dependent v2") == "dependent v2"


STATE_DECLARATIONS = """
from toolkit.cache import CacheRegistry, StateSpec

registry = CacheRegistry()
BREAKERS = registry.declare_state(
    StateSpec(prefix="tests:breaker:", owner="tests", entity="-", expiry="a minute")
)
"""


def test_declaring_state_hands_its_owner_a_handle_that_writes_under_the_prefix():
    declared = as_module("tests.caches", STATE_DECLARATIONS)
    breakers = declared["BREAKERS"]

    breakers.set("reviews:failures", 3, timeout=60)
    breakers.add("reviews:opened_at", 1.5, timeout=60)

    assert cache.get("tests:breaker:reviews:failures") == 3
    assert breakers.get_many(["reviews:failures", "reviews:opened_at", "gone"]) == {
        "reviews:failures": 3,
        "reviews:opened_at": 1.5,
    }
    assert declared["registry"].state_of(breakers.key("reviews:failures")) is breakers.spec
    breakers.delete("reviews:failures", "reviews:opened_at")
    assert breakers.get("reviews:failures") is None


@pytest.mark.parametrize("prefix", ["tests:breaker:", "tests:", "tests:breaker:reviews:"])
def test_a_state_prefix_that_overlaps_another_is_refused(prefix):
    # given one state declared, when another claims keys it holds (or the other way round)
    source = STATE_DECLARATIONS + (
        f"registry.declare_state(StateSpec(prefix={prefix!r}, owner='tests', entity='-', "
        "expiry='-'))"
    )

    # then two owners would share keys: refused
    with pytest.raises(ValueError, match="overlaps tests:breaker:"):
        as_module("tests.caches", source)
