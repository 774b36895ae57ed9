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

`PromotionScan` is the failure-mode lab's naive path (`promotions-naive`): no index, every
rule checked against every line, and the caller passes no bound.
"""

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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

    def covers(self, line: PricingLine) -> bool:
        """Whether this rule targets the line: what the index's buckets answer by lookup."""
        if self.target == "sku":
            return line.sku == self.target_ref
        if self.target == "brand":
            return str(line.brand_id) == self.target_ref
        if self.target == "category":
            return _category_prefix(line.category_path).startswith(
                _category_prefix(self.target_ref)
            )
        return True

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


@dataclass(frozen=True)
class PromotionScan:
    """The lab's naive path (`promotions-naive`): every active rule, in one list.

    What a team ships first: "for each line, for each promotion, does it apply?". It
    prices carts right while promotions are few. During a promotion storm every line
    checks every rule, and the cart step checks every rule again, so the cost follows the
    number of promotions in the store, not the cart; with no bound on the checks a cart
    of 50 lines against 10,000 promotions makes a million of them. Same interface as
    `PromotionIndex`; `price_cart` skips rules that do not cover a line, unexplained.
    """

    rules: tuple[PromotionRule, ...] = ()

    @property
    def size(self) -> int:
        return len(self.rules)

    def line_candidates(self, line: PricingLine) -> Iterator[PromotionRule]:
        return iter(self.rules)

    def cart_candidates(self, skus: Iterable[str]) -> Iterator[PromotionRule]:
        return iter(self.rules)


def promotion_scan_build(rules: Iterable[PromotionRule]) -> PromotionScan:
    """The lab's naive path (`promotions-naive`): the rules in rule order, no index."""
    return PromotionScan(rules=_by_order(rules))


# Where price_cart finds the rules for a line: the index, or the lab's naive scan.
RuleSource = PromotionIndex | PromotionScan


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
    """Counts rule checks; refuses more once the bound (if any) is reached."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.taken = 0
        self.hit = False

    def take(self) -> bool:
        if self.limit is not None and self.taken >= self.limit:
            self.hit = True
            return False
        self.taken += 1
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


@dataclass(frozen=True)
class _Evaluation:
    """What every rule check for one cart shares: the moment and the customer's segments
    rules are checked against, the bound on checks, and the explanation being written."""

    at: datetime | None
    segments: frozenset[str]
    budget: _Budget
    explanation: _Explanation

    def applicable(
        self,
        candidates: Iterable[PromotionRule],
        *,
        mechanics: frozenset[str],
        discount: Callable[[PromotionRule], tuple[Decimal, str | None]],
        covers: Callable[[PromotionRule], bool],
    ) -> list[_Applicable]:
        """Check candidates in order while the budget lasts; return those with a discount.

        Every candidate taken counts against the budget, one of another mechanic or one
        that does not `covers` what is priced too (an index yields none of those; the
        lab's naive scan yields every rule). A rule that does not apply is explained,
        unless it is outside its window.
        """
        applicable = []
        for rule in candidates:
            if not self.budget.take():
                break
            if rule.mechanic not in mechanics or not covers(rule):
                continue
            refusal = rule.refusal(at=self.at, segments=self.segments)
            if refusal is None:
                amount, refusal = discount(rule)
            if refusal is not None:
                if refusal:
                    self.explanation.skip(rule, refusal)
            elif amount > 0:
                applicable.append(_Applicable(rule, amount))
        return applicable


def _ranked(applicable: list[_Applicable]) -> list[_Applicable]:
    return sorted(applicable, key=lambda a: (-a.rule.priority, -a.amount, a.rule.order_key))


def _stack(
    ranked: list[_Applicable],
    *,
    base: Decimal,
    cap: Decimal,
    recompute: Callable[[PromotionRule, Decimal], Decimal],
    explanation: _Explanation,
    blocked_by_exclusive: str | None = None,
) -> tuple[Decimal, list[PromotionRule]]:
    """Apply ranked rules under the stacking rules; return the discount and the rules used.

    `recompute(rule, remaining)` is what a stacked rule takes off what is left of `base`
    after the rules before it.
    """
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


def price_cart(
    *,
    lines: Sequence[PricingLine],
    unit_prices: Mapping[int, Decimal],
    index: RuleSource,
    coupon: CouponRule | None,
    coupon_code: str | None,
    currency: str,
    at: datetime | None = None,
    segments: Iterable[str] = (),
    max_evaluations: int | None = 2_000,
    max_discount_percent: Decimal = HUNDRED,
) -> CartPricing:
    """Price every line that has a price; report the ones that do not.

    Deterministic: the same inputs give the same result whatever their order. Cost:
    proportional to the lines and the rules that target them, at most `max_evaluations`
    rule checks (None: no bound, only the lab's naive path asks for that).
    """
    evaluation = _Evaluation(
        at=at,
        segments=frozenset(segments),
        budget=_Budget(max_evaluations),
        explanation=_Explanation(),
    )
    cap_share = min(max(max_discount_percent, ZERO), HUNDRED) / HUNDRED
    ordered = sorted(
        (line for line in lines if line.variant_id in unit_prices),
        key=lambda line: (line.variant_id, line.sku, line.quantity),
    )
    priced, exclusive_lines = _price_lines(
        ordered, unit_prices, index=index, cap_share=cap_share, evaluation=evaluation
    )
    subtotal = sum((line.unit_price * line.quantity for line in priced), ZERO)
    line_discounts = sum((line.discount for line in priced), ZERO)
    cap = _share(subtotal, cap_share)
    cart_discount = _cart_rules(
        index,
        lines=[line for line in ordered if line.variant_id not in exclusive_lines],
        priced=[line for line in priced if line.variant_id not in exclusive_lines],
        room=cap - line_discounts,
        line_promotions=line_discounts > 0,
        evaluation=evaluation,
    )
    after_promotions = subtotal - line_discounts - cart_discount
    coupon_result = _apply_coupon(
        coupon, coupon_code, after_promotions, room=cap - line_discounts - cart_discount
    )
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
        explanation=evaluation.explanation.outcomes(),
        bound_hit=evaluation.budget.hit,
        evaluations=evaluation.budget.taken,
    )


def _price_lines(
    ordered: Sequence[PricingLine],
    unit_prices: Mapping[int, Decimal],
    *,
    index: RuleSource,
    cap_share: Decimal,
    evaluation: _Evaluation,
) -> tuple[list[PricedLine], set[int]]:
    """Price each line under its line rules, in order; return the priced lines and the
    variant ids whose line an exclusive promotion won."""
    priced: list[PricedLine] = []
    exclusive_lines: set[int] = set()
    for line in ordered:
        priced_line, exclusive = _price_line(
            line,
            money(unit_prices[line.variant_id]),
            index=index,
            cap_share=cap_share,
            evaluation=evaluation,
        )
        priced.append(priced_line)
        if exclusive:
            exclusive_lines.add(line.variant_id)
    return priced, exclusive_lines


def _price_line(
    line: PricingLine,
    unit_price: Decimal,
    *,
    index: RuleSource,
    cap_share: Decimal,
    evaluation: _Evaluation,
) -> tuple[PricedLine, bool]:
    """Price one line under the line rules that target it; say if an exclusive one won."""
    gross = money(unit_price * line.quantity)
    applicable = evaluation.applicable(
        index.line_candidates(line),
        mechanics=LINE_MECHANICS,
        discount=lambda rule: rule.line_discount(unit_price, line.quantity),
        covers=lambda rule: rule.covers(line),
    )

    def recompute(rule: PromotionRule, remaining: Decimal) -> Decimal:
        amount, _ = rule.line_discount(remaining / line.quantity, line.quantity)
        return amount

    discount, used = _stack(
        _ranked(applicable),
        base=gross,
        cap=_share(gross, cap_share),
        recompute=recompute,
        explanation=evaluation.explanation,
    )
    priced = PricedLine(
        variant_id=line.variant_id,
        quantity=line.quantity,
        unit_price=unit_price,
        discount=discount,
        total=gross - discount,
        promotion=", ".join(rule.name for rule in used) or None,
    )
    return priced, bool(used) and used[0].exclusive


def _cart_rules(
    index: RuleSource,
    *,
    lines: Sequence[PricingLine],
    priced: Sequence[PricedLine],
    room: Decimal,
    line_promotions: bool,
    evaluation: _Evaluation,
) -> Decimal:
    """Apply bundles and tiered-spend rules to the discounted totals of the lines that
    take part (`lines` as given, `priced` as line rules left them)."""
    skus = {line.sku: line for line in lines}
    totals = {line.variant_id: line for line in priced}
    eligible_amount = sum((line.total for line in priced), ZERO)

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

    applicable = evaluation.applicable(
        index.cart_candidates(skus),
        mechanics=CART_MECHANICS,
        discount=lambda rule: discount(rule, eligible_amount),
        covers=lambda rule: (
            rule.mechanic != "bundle" or not skus.keys().isdisjoint(rule.bundle_skus)
        ),
    )
    total, _ = _stack(
        _ranked([_Applicable(a.rule, min(a.amount, eligible_amount)) for a in applicable]),
        base=eligible_amount,
        cap=max(min(room, eligible_amount), ZERO),
        recompute=lambda rule, remaining: discount(rule, remaining)[0],
        explanation=evaluation.explanation,
        blocked_by_exclusive="exclusive, and line promotions already apply"
        if line_promotions
        else None,
    )
    return total


def _apply_coupon(
    coupon: CouponRule | None, code: str | None, amount: Decimal, *, room: Decimal
) -> CouponResult | None:
    """Return the coupon's result on `amount` (what promotions left), None without a code.

    `room` is what is left of the cap on the combined discount.
    """
    if coupon is None:
        return CouponResult(code, ZERO, applied=False, reason="unknown code") if code else None
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
