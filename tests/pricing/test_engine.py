"""The pricing engine is pure: these tests need no database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pricing.dto import PricingLine
from pricing.engine import CouponRule, PromotionRule, price_cart, promotion_index_build


def line(variant_id=1, *, quantity=1, sku="SKU-1", brand_id=1, category_path="000001/"):
    return PricingLine(
        variant_id=variant_id,
        sku=sku,
        quantity=quantity,
        brand_id=brand_id,
        category_path=category_path,
    )


def rule(name="r", *, kind="percent", value="10", target="all", target_ref="", **fields):
    return PromotionRule(
        name=name,
        kind=kind,
        value=Decimal(value),
        target=target,
        target_ref=target_ref,
        **fields,
    )


def price(lines, prices, promotions=(), coupon=None, coupon_code=None, **options):
    return price_cart(
        lines=lines,
        unit_prices={k: Decimal(v) for k, v in prices.items()},
        index=promotion_index_build(promotions),
        coupon=coupon,
        coupon_code=coupon_code,
        currency="EUR",
        **options,
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


# Mechanics


def test_buy_two_get_one_free_discounts_one_unit_in_every_three():
    promotions = [
        rule("3 for 2", mechanic="buy_x_get_y", value="100", buy_quantity=2, get_quantity=1)
    ]

    result = price([line(quantity=7)], {1: "10.00"}, promotions)

    # 7 units hold two complete groups of three: two units free
    assert result.lines[0].discount == Decimal("20.00")
    assert result.total == Decimal("50.00")


def test_buy_x_get_y_explains_why_a_short_line_gets_nothing():
    promotions = [
        rule("3 for 2", mechanic="buy_x_get_y", value="100", buy_quantity=2, get_quantity=1)
    ]

    result = price([line(quantity=2)], {1: "10.00"}, promotions)

    assert result.discount == Decimal("0.00")
    [outcome] = result.explanation
    assert (outcome.name, outcome.applied, outcome.reason) == (
        "3 for 2",
        False,
        "needs 3 units of the item",
    )


def test_bundle_discounts_each_complete_set():
    bundle = rule(
        "tent + stove", mechanic="bundle", kind="fixed", value="15", bundle_skus=("TENT", "STOVE")
    )
    lines = [line(1, sku="TENT", quantity=2), line(2, sku="STOVE", quantity=1)]

    result = price(lines, {1: "100.00", 2: "40.00"}, [bundle])

    # one complete set (the second tent has no stove): 15 off the cart, not off a line
    assert result.cart_discount == Decimal("15.00")
    assert result.total == Decimal("225.00")
    assert [line.discount for line in result.lines] == [Decimal("0.00"), Decimal("0.00")]


def test_incomplete_bundle_does_not_apply():
    bundle = rule("pair", mechanic="bundle", kind="fixed", value="15", bundle_skus=("A", "B"))

    result = price([line(1, sku="A")], {1: "100.00"}, [bundle])

    assert result.total == Decimal("100.00")
    assert result.explanation[0].reason == "the cart does not hold the whole bundle"


def test_spend_tiers_take_the_highest_tier_reached():
    tiers = ((Decimal("50"), Decimal("5")), (Decimal("100"), Decimal("10")))
    promotions = [rule("spend more", mechanic="tiered_spend", tiers=tiers)]

    below = price([line(quantity=1)], {1: "40.00"}, promotions)
    middle = price([line(quantity=2)], {1: "40.00"}, promotions)
    top = price([line(quantity=3)], {1: "40.00"}, promotions)

    assert below.discount == Decimal("0.00")
    assert below.explanation[0].reason == "needs a spend of 50"
    assert middle.discount == Decimal("4.00")  # 5% of 80
    assert top.discount == Decimal("12.00")  # 10% of 120


def test_segment_promotion_applies_only_to_that_segment():
    promotions = [rule("members", segment="vip")]

    guest = price([line()], {1: "20.00"}, promotions)
    member = price([line()], {1: "20.00"}, promotions, segments={"vip"})

    assert guest.discount == Decimal("0.00")
    assert guest.explanation[0].reason == "not for this customer"
    assert member.discount == Decimal("2.00")


def test_promotion_outside_its_window_is_skipped_without_explanation():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    later = rule("summer", valid_from=now + timedelta(days=1))
    over = rule("spring", valid_until=now)

    result = price([line()], {1: "20.00"}, [later, over], at=now)

    assert result.discount == Decimal("0.00")
    assert result.explanation == ()


# Stacking


def test_stackable_promotion_adds_to_the_best_one_on_what_is_left():
    promotions = [
        rule("sale", value="20", priority=1),
        rule("extra", value="10", stackable=True),
    ]

    result = price([line()], {1: "100.00"}, promotions)

    # 20% off 100, then 10% off the remaining 80
    assert result.lines[0].discount == Decimal("28.00")
    assert result.lines[0].promotion == "sale, extra"


def test_non_stackable_promotions_compete_and_the_explanation_says_why():
    promotions = [rule("ten", value="10"), rule("twenty", value="20")]

    result = price([line()], {1: "100.00"}, promotions)

    assert result.lines[0].promotion == "twenty"
    skipped = {o.name: o.reason for o in result.explanation if not o.applied}
    assert skipped == {"ten": "does not stack with twenty"}


def test_exclusive_promotion_applies_alone_and_keeps_the_line_out_of_cart_rules():
    tiers = ((Decimal("0.01"), Decimal("10")),)
    promotions = [
        rule("vip only", value="15", priority=5, exclusive=True),
        rule("extra", value="10", stackable=True),
        rule("spend", mechanic="tiered_spend", tiers=tiers),
    ]

    result = price([line()], {1: "100.00"}, promotions)

    assert result.lines[0].promotion == "vip only"
    assert result.discount == Decimal("15.00")
    assert {o.name: o.applied for o in result.explanation} == {
        "vip only": True,
        "extra": False,
        "spend": False,
    }


def test_combined_discount_never_exceeds_the_maximum():
    promotions = [
        rule("half", value="50", priority=1),
        rule("more", value="50", stackable=True),
    ]
    coupon = CouponRule("C", "percent", Decimal("50"), Decimal("0"), has_uses_left=True)

    result = price(
        [line()], {1: "100.00"}, promotions, coupon, "C", max_discount_percent=Decimal(60)
    )

    assert result.discount == Decimal("60.00")
    assert result.total == Decimal("40.00")


# Bounded work


def test_evaluation_bound_stops_early_and_says_so():
    promotions = [rule(f"r{i}", value="1", target="sku", target_ref="SKU-1") for i in range(50)]

    bounded = price([line()], {1: "100.00"}, promotions, max_evaluations=10)
    unbounded = price([line()], {1: "100.00"}, promotions)

    assert bounded.bound_hit
    assert not unbounded.bound_hit
    assert len(bounded.explanation) == 10
    assert bounded.total >= unbounded.total


def test_index_looks_up_only_rules_that_target_the_line():
    index = promotion_index_build(
        [
            rule("sku", target="sku", target_ref="SKU-1"),
            rule("other sku", target="sku", target_ref="SKU-2"),
            rule("brand", target="brand", target_ref="1"),
            rule("other brand", target="brand", target_ref="2"),
            rule("root", target="category", target_ref="000001/"),
            rule("leaf", target="category", target_ref="000001/000004/"),
            rule("elsewhere", target="category", target_ref="000002/"),
            rule("all"),
        ]
    )

    names = {r.name for r in index.line_candidates(line(category_path="000001/000004/"))}

    assert names == {"sku", "brand", "root", "leaf", "all"}


# Properties: order, non-negative totals, exclusivity, the bound

mechanic_rules = st.builds(
    rule,
    name=st.text(alphabet="abcdefgh", min_size=1, max_size=4),
    kind=st.sampled_from(["percent", "fixed"]),
    value=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("150"), places=2).map(str),
    target=st.sampled_from(["all", "sku", "brand", "category"]),
    target_ref=st.sampled_from(["SKU-1", "SKU-2", "1", "2", "000001/"]),
    priority=st.integers(0, 3),
    mechanic=st.sampled_from(["discount", "discount", "buy_x_get_y", "bundle", "tiered_spend"]),
    exclusive=st.booleans(),
    stackable=st.booleans(),
    buy_quantity=st.integers(1, 3),
    get_quantity=st.integers(1, 2),
    bundle_skus=st.sampled_from([("SKU-1", "SKU-2"), ("SKU-2",), ("SKU-9",)]),
    tiers=st.sampled_from([(), ((Decimal("10"), Decimal("5")), (Decimal("80"), Decimal("20")))]),
)
carts = st.lists(
    st.tuples(st.sampled_from(["SKU-1", "SKU-2", "SKU-3"]), st.integers(1, 6), amounts),
    min_size=1,
    max_size=3,
    unique_by=lambda item: item[0],
)


def _cart(items):
    lines = [
        line(index + 1, sku=sku, quantity=quantity, brand_id=index % 2 + 1)
        for index, (sku, quantity, _) in enumerate(items)
    ]
    return lines, {index + 1: amount for index, (_, _, amount) in enumerate(items)}


@given(
    items=carts,
    promotions=st.lists(mechanic_rules, max_size=10),
    max_discount=st.sampled_from([Decimal(100), Decimal(60)]),
    data=st.data(),
)
def test_any_rule_order_gives_the_same_cart(items, promotions, max_discount, data):
    lines, prices = _cart(items)
    shuffled = data.draw(st.permutations(promotions))
    shuffled_lines = data.draw(st.permutations(lines))

    first = price(lines, prices, promotions, max_discount_percent=max_discount)
    second = price(shuffled_lines, prices, shuffled, max_discount_percent=max_discount)

    assert first == second


@given(
    items=carts,
    promotions=st.lists(mechanic_rules, max_size=10),
    coupon_value=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2),
    max_discount=st.sampled_from([Decimal(100), Decimal(60), Decimal(0)]),
    bound=st.sampled_from([0, 3, 2_000]),
)
def test_totals_are_never_negative_and_the_cap_holds(
    items, promotions, coupon_value, max_discount, bound
):
    lines, prices = _cart(items)
    coupon = CouponRule("C", "fixed", coupon_value, Decimal("0"), has_uses_left=True)

    result = price(
        lines,
        prices,
        promotions,
        coupon,
        "C",
        max_discount_percent=max_discount,
        max_evaluations=bound,
    )

    assert result.total >= 0
    assert all(priced.total >= 0 for priced in result.lines)
    assert result.discount <= result.subtotal * max_discount / 100
    assert result.total == result.subtotal - result.discount


@given(
    items=carts,
    promotions=st.lists(mechanic_rules, max_size=10, unique_by=lambda r: r.name),
)
def test_an_exclusive_promotion_is_never_combined(items, promotions):
    lines, prices = _cart(items)
    exclusive = {r.name for r in promotions if r.exclusive}

    result = price(lines, prices, promotions)

    for priced in result.lines:
        applied = priced.promotion.split(", ") if priced.promotion else []
        if exclusive & set(applied):
            assert len(applied) == 1
    cart_exclusive = [o.name for o in result.explanation if o.applied and o.name in exclusive]
    line_names = {n for p in result.lines if p.promotion for n in p.promotion.split(", ")}
    for name in cart_exclusive:
        if name not in line_names:  # an exclusive cart rule applied: no line promotion did
            assert all(p.discount == 0 for p in result.lines)


@given(
    items=carts,
    promotions=st.lists(mechanic_rules, min_size=1, max_size=30),
    bound=st.integers(0, 10),
)
def test_the_bound_caps_the_rules_considered(items, promotions, bound):
    lines, prices = _cart(items)

    result = price(lines, prices, promotions, max_evaluations=bound)

    assert len(result.explanation) <= bound
