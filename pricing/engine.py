"""The pricing engine: pure functions over plain records, no ORM, no clock, no settings.

Active promotions are compiled once into a `PromotionIndex` keyed by what they target
(SKU, brand, category path prefix, bundle member SKU, whole cart), so pricing a cart
looks up only the rules that can apply to its lines: the cost follows the cart, not the
number of promotions in the store.

Stacking, the same for every cart and independent of the order rules are given in:
- Line rules (percent or fixed off, buy X get Y) are ranked per line by priority, then
  by the discount they give that line, then name and id. The first applies. A later one
  applies too only if it is `stackable` and nothing `exclusive` already applies; an
  `exclusive` rule applies only as the first rule of its line, and then alone. Stacked
  discounts apply to what the line costs after the earlier ones.
- Cart rules (bundles, tiered spend) follow the same ranking among themselves, on what
  the lines cost after line rules. Lines with an exclusive promotion take no part in
  them, and an exclusive cart rule does not apply when any line promotion already does.
- The coupon applies last, to the discounted subtotal.
- The combined discount never exceeds `max_discount_percent` of the subtotal (per line
  for line rules, per cart for everything), and no total is ever negative.

Work is bounded: at most `max_evaluations` rule checks per cart. Past the bound the
remaining rules are not considered (the cart is priced with what was evaluated, which
can only be a smaller discount), and the result says so with `bound_hit`.
"""

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import TypeVar

from pricing.dto import (
    CartPricing,
    CouponResult,
    PricedLine,
    PricingLine,
    PromotionOutcome,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)

V = TypeVar("V")

LINE_MECHANICS = frozenset({"discount", "buy_x_get_y"})
CART_MECHANICS = frozenset({"bundle", "tiered_spend"})


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _share(amount: Decimal, share: Decimal) -> Decimal:
    """`share` of `amount`, rounded down: a cap must never round up past its limit."""
    return (amount * share).quantize(CENT, rounding=ROUND_DOWN)


def _off(kind: str, value: Decimal, amount: Decimal) -> Decimal:
    """`value` percent of `amount`, or `value` itself, never more than `amount`."""
    if amount <= 0:
        return ZERO
    off = amount * min(value, HUNDRED) / HUNDRED if kind == "percent" else value
    return money(min(off, amount))


@dataclass(frozen=True)
class PromotionRule:
    """One active promotion as the engine sees it.

    `mechanic` is "discount" (percent or fixed off each unit), "buy_x_get_y" (of every
    `buy_quantity + get_quantity` units of a line, `get_quantity` get `value` percent or
    fixed off), "bundle" (each complete set of `bundle_skus` gets `value` off the set)
    or "tiered_spend" (the highest `tiers` step the cart reaches: (min spend, value)).
    `target` / `target_ref` say which lines a line rule covers: "all", "sku" (a SKU),
    "category" (a category path prefix) or "brand" (a brand id as text).
    """

    name: str
    kind: str  # "percent" | "fixed"
    value: Decimal
    target: str = "all"
    target_ref: str = ""
    priority: int = 0
    id: int = 0
    mechanic: str = "discount"
    exclusive: bool = False
    stackable: bool = False
    segment: str = ""  # "" is everyone
    buy_quantity: int = 0
    get_quantity: int = 0
    bundle_skus: tuple[str, ...] = ()
    tiers: tuple[tuple[Decimal, Decimal], ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @cached_property
    def order_key(self) -> tuple:
        """A total order on rules, so ties never depend on the order they were given in."""
        return (
            -self.priority,
            self.name,
            self.id,
            self.mechanic,
            self.kind,
            self.value,
            self.target,
            self.target_ref,
            self.exclusive,
            self.stackable,
            self.segment,
            self.buy_quantity,
            self.get_quantity,
            self.bundle_skus,
            self.tiers,
        )

    def active_at(self, at: datetime | None) -> bool:
        return (self.valid_from is None or at is None or self.valid_from <= at) and (
            self.valid_until is None or at is None or at < self.valid_until
        )

    def refusal(self, *, at: datetime | None, segments: frozenset[str]) -> str | None:
        """Why the rule cannot apply to this cart at all, "" to skip it unexplained, or None.

        A rule outside its window is not explained: the cart page must not announce
        campaigns before they start.
        """
        if not self.active_at(at):
            return ""
        if self.segment and self.segment not in segments:
            return "not for this customer"
        return None

    def line_discount(self, unit_price: Decimal, quantity: int) -> tuple[Decimal, str | None]:
        """The discount on a whole line, or zero and the reason it does not apply."""
        if self.mechanic == "buy_x_get_y":
            group = self.buy_quantity + self.get_quantity
            if self.get_quantity < 1 or quantity < group:
                return ZERO, f"needs {group} units of the item"
            discounted_units = (quantity // group) * self.get_quantity
            return money(_off(self.kind, self.value, unit_price) * discounted_units), None
        return money(_off(self.kind, self.value, unit_price) * quantity), None


@dataclass(frozen=True)
class CouponRule:
    code: str
    kind: str
    value: Decimal
    min_spend: Decimal
    has_uses_left: bool


def _by_order(rules: Iterable[PromotionRule]) -> tuple[PromotionRule, ...]:
    return tuple(sorted(rules, key=lambda rule: rule.order_key))


def _category_prefix(path: str) -> str:
    return path if path.endswith("/") else f"{path}/"


@dataclass(frozen=True)
class PromotionIndex:
    """Active promotions by what they target; each bucket in rule order."""

    by_sku: Mapping[str, tuple[PromotionRule, ...]] = field(default_factory=dict)
    by_brand: Mapping[str, tuple[PromotionRule, ...]] = field(default_factory=dict)
    by_category: Mapping[str, tuple[PromotionRule, ...]] = field(default_factory=dict)
    everywhere: tuple[PromotionRule, ...] = ()
    bundles_by_sku: Mapping[str, tuple[PromotionRule, ...]] = field(default_factory=dict)
    cart_wide: tuple[PromotionRule, ...] = ()
    size: int = 0

    def line_candidates(self, line: PricingLine) -> Iterator[PromotionRule]:
        """Rules that target this line, in rule order, produced lazily.

        A lazy merge of the few buckets the line falls in, so a caller that stops after
        its evaluation bound never pays for the rest of a long bucket.
        """
        segments = line.category_path.rstrip("/").split("/") if line.category_path else []
        buckets = [
            self.by_sku.get(line.sku, ()),
            self.by_brand.get(str(line.brand_id), ()),
            self.everywhere,
            *(
                self.by_category.get("/".join(segments[:depth]) + "/", ())
                for depth in range(1, len(segments) + 1)
            ),
        ]
        return heapq.merge(*(b for b in buckets if b), key=lambda rule: rule.order_key)

    def cart_candidates(self, skus: Iterable[str]) -> Iterator[PromotionRule]:
        """Bundles with a member SKU in the cart, and cart-wide rules, in rule order."""
        bundles = {id(rule): rule for sku in skus for rule in self.bundles_by_sku.get(sku, ())}
        return heapq.merge(
            _by_order(bundles.values()), self.cart_wide, key=lambda rule: rule.order_key
        )


def promotion_index_build(rules: Iterable[PromotionRule]) -> PromotionIndex:
    """Compile rules into an index by target. Linear in the number of rules."""
    by_sku: dict[str, list[PromotionRule]] = defaultdict(list)
    by_brand: dict[str, list[PromotionRule]] = defaultdict(list)
    by_category: dict[str, list[PromotionRule]] = defaultdict(list)
    bundles_by_sku: dict[str, list[PromotionRule]] = defaultdict(list)
    everywhere: list[PromotionRule] = []
    cart_wide: list[PromotionRule] = []
    size = 0
    for rule in rules:
        size += 1
        if rule.mechanic == "bundle":
            for sku in set(rule.bundle_skus):
                bundles_by_sku[sku].append(rule)
        elif rule.mechanic == "tiered_spend":
            cart_wide.append(rule)
        elif rule.target == "sku":
            by_sku[rule.target_ref].append(rule)
        elif rule.target == "brand":
            by_brand[rule.target_ref].append(rule)
        elif rule.target == "category":
            by_category[_category_prefix(rule.target_ref)].append(rule)
        else:
            everywhere.append(rule)

    def frozen(buckets: dict[str, list[PromotionRule]]) -> dict[str, tuple[PromotionRule, ...]]:
        return {key: _by_order(bucket) for key, bucket in buckets.items()}

    return PromotionIndex(
        by_sku=frozen(by_sku),
        by_brand=frozen(by_brand),
        by_category=frozen(by_category),
        everywhere=_by_order(everywhere),
        bundles_by_sku=frozen(bundles_by_sku),
        cart_wide=_by_order(cart_wide),
        size=size,
    )


class _Budget:
    """Counts rule checks; refuses more once the bound is reached."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.hit = False

    def take(self) -> bool:
        if self.left <= 0:
            self.hit = True
            return False
        self.left -= 1
        return True


class _Explanation:
    """What happened to every rule that was considered, one entry per rule.

    Keyed by object identity: a rule's own hash walks all its fields, and the same rule
    object comes back from the index for every line it targets.
    """

    def __init__(self) -> None:
        self.rules: dict[int, PromotionRule] = {}
        self.applied: dict[int, Decimal] = {}
        self.skipped: dict[int, str] = {}

    def apply(self, rule: PromotionRule, amount: Decimal) -> None:
        self.rules[id(rule)] = rule
        self.applied[id(rule)] = self.applied.get(id(rule), ZERO) + amount
        self.skipped.pop(id(rule), None)

    def skip(self, rule: PromotionRule, reason: str) -> None:
        if id(rule) not in self.applied:
            self.rules[id(rule)] = rule
            self.skipped.setdefault(id(rule), reason)

    def outcomes(self) -> tuple[PromotionOutcome, ...]:
        applied = [
            PromotionOutcome(name=rule.name, applied=True, amount=money(amount), reason="applied")
            for rule, amount in self._in_rule_order(self.applied)
        ]
        skipped = [
            PromotionOutcome(name=rule.name, applied=False, amount=ZERO, reason=reason)
            for rule, reason in self._in_rule_order(self.skipped)
        ]
        return (*applied, *skipped)

    def _in_rule_order(self, entries: Mapping[int, V]) -> list[tuple[PromotionRule, V]]:
        return sorted(
            ((self.rules[key], value) for key, value in entries.items()),
            key=lambda item: item[0].order_key,
        )


@dataclass
class _Applicable:
    rule: PromotionRule
    amount: Decimal


def _ranked(applicable: list[_Applicable]) -> list[_Applicable]:
    return sorted(applicable, key=lambda a: (-a.rule.priority, -a.amount, a.rule.order_key))


def _stack(
    ranked: list[_Applicable],
    *,
    base: Decimal,
    cap: Decimal,
    recompute,
    explanation: _Explanation,
    blocked_by_exclusive: str | None = None,
) -> tuple[Decimal, list[PromotionRule]]:
    """Apply ranked rules under the stacking rules; return the discount and the rules used."""
    total = ZERO
    used: list[PromotionRule] = []
    for candidate in ranked:
        rule = candidate.rule
        if used and used[0].exclusive:
            explanation.skip(rule, f"{used[0].name} is exclusive")
        elif used and rule.exclusive:
            explanation.skip(rule, f"exclusive, and {used[0].name} already applies")
        elif used and not rule.stackable:
            explanation.skip(rule, f"does not stack with {used[0].name}")
        elif rule.exclusive and blocked_by_exclusive:
            explanation.skip(rule, blocked_by_exclusive)
        else:
            amount = candidate.amount if not used else recompute(rule, base - total)
            amount = min(amount, max(cap - total, ZERO))
            if amount <= 0:
                explanation.skip(rule, "the maximum combined discount is reached")
                continue
            total += amount
            used.append(rule)
            explanation.apply(rule, amount)
    return total, used


def _apply_coupon(coupon: CouponRule, amount: Decimal, room: Decimal) -> CouponResult:
    if not coupon.has_uses_left:
        return CouponResult(coupon.code, ZERO, applied=False, reason="no uses left")
    if amount < coupon.min_spend:
        return CouponResult(
            coupon.code, ZERO, applied=False, reason=f"needs a spend of {coupon.min_spend}"
        )
    off = min(_off(coupon.kind, coupon.value, amount), max(room, ZERO))
    if off <= 0:
        return CouponResult(
            coupon.code, ZERO, applied=False, reason="the maximum combined discount is reached"
        )
    return CouponResult(coupon.code, off, applied=True, reason="applied")


def price_cart(
    *,
    lines: Sequence[PricingLine],
    unit_prices: Mapping[int, Decimal],
    index: PromotionIndex,
    coupon: CouponRule | None,
    coupon_code: str | None,
    currency: str,
    at: datetime | None = None,
    segments: Iterable[str] = (),
    max_evaluations: int = 2_000,
    max_discount_percent: Decimal = HUNDRED,
) -> CartPricing:
    """Price every line that has a price; report the ones that do not.

    Deterministic: the same inputs give the same result whatever their order. Cost:
    proportional to the lines and the rules that target them, at most `max_evaluations`
    rule checks.
    """
    segment_set = frozenset(segments)
    budget = _Budget(max_evaluations)
    explanation = _Explanation()
    cap_share = min(max(max_discount_percent, ZERO), HUNDRED) / HUNDRED
    ordered = sorted(
        (line for line in lines if line.variant_id in unit_prices),
        key=lambda line: (line.variant_id, line.sku, line.quantity),
    )

    priced: list[PricedLine] = []
    exclusive_lines: set[int] = set()
    for line in ordered:
        unit_price = money(unit_prices[line.variant_id])
        gross = money(unit_price * line.quantity)
        applicable = []
        for rule in index.line_candidates(line):
            if not budget.take():
                break
            if rule.mechanic not in LINE_MECHANICS:
                continue
            refusal = rule.refusal(at=at, segments=segment_set)
            if refusal is None:
                amount, refusal = rule.line_discount(unit_price, line.quantity)
            if refusal is not None:
                if refusal:
                    explanation.skip(rule, refusal)
            elif amount > 0:
                applicable.append(_Applicable(rule, amount))

        def recompute(rule: PromotionRule, remaining: Decimal, quantity: int = line.quantity):
            amount, _ = rule.line_discount(remaining / quantity, quantity)
            return amount

        discount, used = _stack(
            _ranked(applicable),
            base=gross,
            cap=_share(gross, cap_share),
            recompute=recompute,
            explanation=explanation,
        )
        if used and used[0].exclusive:
            exclusive_lines.add(line.variant_id)
        priced.append(
            PricedLine(
                variant_id=line.variant_id,
                quantity=line.quantity,
                unit_price=unit_price,
                discount=discount,
                total=gross - discount,
                promotion=", ".join(rule.name for rule in used) or None,
            )
        )

    subtotal = sum((line.unit_price * line.quantity for line in priced), ZERO)
    line_discounts = sum((line.discount for line in priced), ZERO)
    cap = _share(subtotal, cap_share)
    eligible = [line for line in priced if line.variant_id not in exclusive_lines]
    skus = {line.sku: line for line in ordered if line.variant_id not in exclusive_lines}
    eligible_amount = sum((line.total for line in eligible), ZERO)
    cart_discount = _cart_rules(
        index.cart_candidates(skus),
        skus=skus,
        totals={line.variant_id: line for line in eligible},
        eligible_amount=eligible_amount,
        room=cap - line_discounts,
        line_promotions=line_discounts > 0,
        at=at,
        segments=segment_set,
        budget=budget,
        explanation=explanation,
    )

    coupon_result: CouponResult | None = None
    after_promotions = subtotal - line_discounts - cart_discount
    if coupon is not None:
        coupon_result = _apply_coupon(
            coupon, after_promotions, room=cap - line_discounts - cart_discount
        )
    elif coupon_code:
        coupon_result = CouponResult(coupon_code, ZERO, applied=False, reason="unknown code")
    discount = line_discounts + cart_discount + (coupon_result.discount if coupon_result else ZERO)
    return CartPricing(
        lines=tuple(priced),
        subtotal=money(subtotal),
        discount=money(min(discount, subtotal)),
        total=money(max(subtotal - discount, ZERO)),
        currency=currency,
        coupon=coupon_result,
        unpriced_variant_ids=tuple(
            line.variant_id for line in lines if line.variant_id not in unit_prices
        ),
        cart_discount=money(cart_discount),
        explanation=explanation.outcomes(),
        bound_hit=budget.hit,
    )


def _cart_rules(
    candidates: Iterable[PromotionRule],
    *,
    skus: Mapping[str, PricingLine],
    totals: Mapping[int, PricedLine],
    eligible_amount: Decimal,
    room: Decimal,
    line_promotions: bool,
    at: datetime | None,
    segments: frozenset[str],
    budget: _Budget,
    explanation: _Explanation,
) -> Decimal:
    """Apply bundles and tiered-spend rules to the lines' discounted totals."""

    def discount(rule: PromotionRule, amount: Decimal) -> tuple[Decimal, str | None]:
        if rule.mechanic == "tiered_spend":
            reached = [value for min_spend, value in rule.tiers if amount >= min_spend]
            if not reached:
                lowest = min((min_spend for min_spend, _ in rule.tiers), default=ZERO)
                return ZERO, f"needs a spend of {lowest}"
            return _off(rule.kind, max(reached), amount), None
        members = [skus.get(sku) for sku in dict.fromkeys(rule.bundle_skus)]
        if not members or any(member is None for member in members):
            return ZERO, "the cart does not hold the whole bundle"
        sets = min(member.quantity for member in members if member)
        set_price = sum((totals[m.variant_id].total / m.quantity for m in members if m), ZERO)
        return money(_off(rule.kind, rule.value, money(set_price)) * sets), None

    applicable = []
    for rule in candidates:
        if not budget.take():
            break
        refusal = rule.refusal(at=at, segments=segments)
        if refusal is None:
            amount, refusal = discount(rule, eligible_amount)
        if refusal is not None:
            if refusal:
                explanation.skip(rule, refusal)
        elif amount > 0:
            applicable.append(_Applicable(rule, min(amount, eligible_amount)))
    total, _ = _stack(
        _ranked(applicable),
        base=eligible_amount,
        cap=max(min(room, eligible_amount), ZERO),
        recompute=lambda rule, remaining: discount(rule, remaining)[0],
        explanation=explanation,
        blocked_by_exclusive="exclusive, and line promotions already apply"
        if line_promotions
        else None,
    )
    return total
