"""Lab mode `promotions-naive`: every active promotion checked against every line, no
index and no bound, so the checks per cart grow with the promotions in the store; the
prices stay right. Switched off, the checks follow the cart, not the store."""

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.dto import PricingLine, PromotionInput
from pricing.engine import price_cart, promotion_index_build, promotion_scan_build
from pricing.interface import cart_price
from pricing.services import promotions_create
from tests.pricing.test_engine import _cart, carts, mechanic_rules, rule


def priced(lines, prices, rules, source_build):
    result = price_cart(
        lines=lines,
        unit_prices=prices,
        index=source_build(rules),
        coupon=None,
        coupon_code=None,
        currency="EUR",
        max_evaluations=None,
    )
    return dataclasses.replace(result, evaluations=0)


@given(items=carts, promotions=st.lists(mechanic_rules, max_size=12))
def test_the_naive_scan_prices_every_cart_as_the_index_does(items, promotions):
    lines, prices = _cart(items)

    assert priced(lines, prices, promotions, promotion_scan_build) == priced(
        lines, prices, promotions, promotion_index_build
    )


def test_a_segment_promotion_for_other_lines_is_not_explained_by_the_scan():
    lines, prices = _cart([("SKU-1", 1, Decimal("10.00"))])
    promotions = [rule("members", target="sku", target_ref="SKU-2", segment="vip")]

    result = priced(lines, prices, promotions, promotion_scan_build)

    assert result.explanation == ()


def storm(count: int, *, start: int = 0) -> None:
    """`count` SKU markdowns on SKUs no cart holds: a promotion storm elsewhere."""
    promotions_create(
        promotions=[
            PromotionInput(
                name=f"storm-{start + i}",
                kind="percent",
                value=Decimal("5"),
                target="sku",
                target_ref=f"ELSEWHERE-{start + i}",
            )
            for i in range(count)
        ]
    )


def cart_lines(variant) -> list[PricingLine]:
    """A one-line cart: what one line costs is what every line of a bigger one costs."""
    product = variant.product
    return [
        PricingLine(
            variant_id=variant.pk,
            sku=variant.sku,
            quantity=2,
            brand_id=product.brand_id,
            category_path=product.category.path,
        )
    ]


@pytest.fixture
def variant(product):
    promotions_create(
        promotions=[
            PromotionInput(
                name="ours",
                kind="percent",
                value=Decimal("10"),
                target="sku",
                target_ref=product.variants.get().sku,
            )
        ]
    )
    return product.variants.get()


def test_with_promotions_naive_checks_grow_with_the_promotions_and_ignore_the_bound(
    lab, settings, variant, metric_delta, django_capture_on_commit_callbacks
):
    lab("promotions-naive")
    settings.PRICING_MAX_EVALUATIONS = 100
    metric_delta.watch("peakstore_pricing_evaluation_bound_hit_total")
    lines = cart_lines(variant)

    with django_capture_on_commit_callbacks(execute=True):
        storm(10)
    few = cart_price(lines=lines)
    with django_capture_on_commit_callbacks(execute=True):
        storm(990, start=10)
    many = cart_price(lines=lines)

    # every line checked against every promotion, and again for the cart rules
    assert few.evaluations == 2 * 11
    assert many.evaluations == 2 * 1_001
    # past the bound, nothing stopped it: the bound-hit counter shows the carts past it
    assert not many.bound_hit
    assert metric_delta("peakstore_pricing_evaluation_bound_hit_total") == 1
    # and the price is still right
    assert many.discount == few.discount > 0


def test_with_promotions_naive_off_checks_follow_the_cart_not_the_store(
    lab, settings, variant, metric_delta, django_capture_on_commit_callbacks
):
    lab()  # the lab is on, this mode is not
    settings.PRICING_MAX_EVALUATIONS = 100
    metric_delta.watch("peakstore_pricing_evaluation_bound_hit_total")
    lines = cart_lines(variant)

    with django_capture_on_commit_callbacks(execute=True):
        storm(10)
    few = cart_price(lines=lines)
    with django_capture_on_commit_callbacks(execute=True):
        storm(990, start=10)
    many = cart_price(lines=lines)

    assert few.evaluations == many.evaluations == 1
    assert metric_delta("peakstore_pricing_evaluation_bound_hit_total") == 0
    assert many.discount == few.discount > 0
