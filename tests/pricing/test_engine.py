"""The pricing engine is pure: these tests need no database."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pricing.dto import PricingLine
from pricing.engine import CouponRule, PromotionRule, price_cart


def line(variant_id=1, *, quantity=1, sku="SKU-1", brand_id=1, category_path="000001/"):
    return PricingLine(
        variant_id=variant_id,
        sku=sku,
        quantity=quantity,
        brand_id=brand_id,
        category_path=category_path,
    )


def rule(name="r", *, kind="percent", value="10", target="all", target_ref="", priority=0):
    return PromotionRule(name, kind, Decimal(value), target, target_ref, priority)


def price(lines, prices, promotions=(), coupon=None, coupon_code=None):
    return price_cart(
        lines=lines,
        unit_prices={k: Decimal(v) for k, v in prices.items()},
        promotions=promotions,
        coupon=coupon,
        coupon_code=coupon_code,
        currency="EUR",
    )


def test_best_matching_promotion_applies_per_unit():
    # given a category promotion and a bigger SKU promotion on the same line
    promotions = [
        rule("category", value="10", target="category", target_ref="000001/"),
        rule("sku", kind="fixed", value="5", target="sku", target_ref="SKU-1"),
    ]

    # when a line of 3 units at 20.00 is priced
    result = price([line(quantity=3)], {1: "20.00"}, promotions)

    # then the bigger discount wins, per unit
    assert result.lines[0].promotion == "sku"
    assert result.lines[0].discount == Decimal("15.00")
    assert result.subtotal == Decimal("60.00")
    assert result.total == Decimal("45.00")


def test_promotion_for_another_brand_does_not_apply():
    result = price([line(brand_id=7)], {1: "20.00"}, [rule(target="brand", target_ref="8")])

    assert result.lines[0].promotion is None
    assert result.total == Decimal("20.00")


def test_category_promotion_covers_the_subtree():
    result = price(
        [line(category_path="000001/000004/")],
        {1: "10.00"},
        [rule(target="category", target_ref="000001/")],
    )

    assert result.discount == Decimal("1.00")


def test_coupon_below_min_spend_is_reported_not_applied():
    coupon = CouponRule("BIG", "fixed", Decimal("5"), Decimal("100"), has_uses_left=True)

    result = price([line()], {1: "20.00"}, coupon=coupon, coupon_code="BIG")

    assert result.coupon is not None
    assert not result.coupon.applied
    assert "100" in result.coupon.reason
    assert result.total == Decimal("20.00")


def test_exhausted_coupon_is_not_applied():
    coupon = CouponRule("ONCE", "percent", Decimal("50"), Decimal("0"), has_uses_left=False)

    result = price([line()], {1: "20.00"}, coupon=coupon, coupon_code="ONCE")

    assert result.coupon.reason == "no uses left"
    assert result.total == Decimal("20.00")


def test_line_without_a_price_is_reported_and_not_charged():
    result = price([line(1), line(2, sku="SKU-2")], {1: "3.00"})

    assert result.unpriced_variant_ids == (2,)
    assert result.total == Decimal("3.00")


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999"), places=2)
rules = st.builds(
    rule,
    name=st.text(alphabet="abcdefgh", min_size=1, max_size=4),
    kind=st.sampled_from(["percent", "fixed"]),
    value=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("150"), places=2).map(str),
    target=st.sampled_from(["all", "sku", "brand"]),
    target_ref=st.sampled_from(["SKU-1", "1", "2"]),
    priority=st.integers(0, 3),
)


@given(
    unit_price=amounts,
    quantity=st.integers(1, 20),
    promotions=st.lists(rules, max_size=8),
    coupon_value=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("2000"), places=2),
    coupon_kind=st.sampled_from(["percent", "fixed"]),
)
def test_totals_never_negative_and_add_up(
    unit_price, quantity, promotions, coupon_value, coupon_kind
):
    coupon = CouponRule("C", coupon_kind, coupon_value, Decimal("0"), has_uses_left=True)

    result = price([line(quantity=quantity)], {1: unit_price}, promotions, coupon, "C")

    assert result.total >= 0
    assert result.discount <= result.subtotal
    assert result.total == result.subtotal - result.discount
    line_totals = sum(priced.total for priced in result.lines)
    line_discounts = sum(priced.discount for priced in result.lines)
    assert line_totals == result.subtotal - line_discounts


@given(promotions=st.lists(rules, min_size=1, max_size=8), data=st.data())
def test_rule_order_does_not_change_the_result(promotions, data):
    shuffled = data.draw(st.permutations(promotions))

    first = price([line(quantity=2)], {1: "37.50"}, promotions)
    second = price([line(quantity=2)], {1: "37.50"}, shuffled)

    assert first == second
