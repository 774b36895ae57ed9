from typing import Any

from django.db import models
from django.db.models import F, Q


class PriceList(models.Model):
    """A set of prices. The active list with the highest priority wins for a SKU."""

    class Kind(models.TextChoices):
        BASE = "base"
        CAMPAIGN = "campaign"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BASE)
    currency = models.CharField(max_length=3, default="EUR")
    priority = models.PositiveSmallIntegerField(default=0)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Price(models.Model):
    price_list = models.ForeignKey(PriceList, related_name="prices", on_delete=models.CASCADE)
    variant = models.ForeignKey("catalog.Variant", related_name="+", on_delete=models.CASCADE)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["variant", "price_list"], name="price_variant_list_uniq"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="price_amount_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} for variant {self.variant_id}"


class Promotion(models.Model):
    """An automatic discount; `pricing.engine.PromotionRule` says how each field is used."""

    class Mechanic(models.TextChoices):
        DISCOUNT = "discount", "percent or fixed off each unit"
        BUY_X_GET_Y = "buy_x_get_y", "buy X, get Y discounted"
        BUNDLE = "bundle", "off each complete set of SKUs"
        TIERED_SPEND = "tiered_spend", "off the cart, by spend tier"

    class Kind(models.TextChoices):
        PERCENT = "percent", "percent off"
        FIXED = "fixed", "fixed amount off each unit"

    class Target(models.TextChoices):
        ALL = "all"
        SKU = "sku"
        CATEGORY = "category", "category subtree"
        BRAND = "brand"

    name = models.CharField(max_length=120)
    mechanic = models.CharField(max_length=16, choices=Mechanic.choices, default=Mechanic.DISCOUNT)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    target = models.CharField(max_length=16, choices=Target.choices, default=Target.ALL)
    # The SKU, the category path prefix or the brand id, as text, per `target`.
    target_ref = models.CharField(max_length=255, blank=True)
    priority = models.PositiveSmallIntegerField(default=0)
    # Stacking: an exclusive promotion applies alone; a stackable one adds to another.
    exclusive = models.BooleanField(default=False)
    stackable = models.BooleanField(default=False)
    # A customer segment code ("vip", "staff", ...); blank is everyone.
    segment = models.CharField(max_length=32, blank=True)
    buy_quantity = models.PositiveSmallIntegerField(default=0)
    get_quantity = models.PositiveSmallIntegerField(default=0)
    # Bundle members: a list of SKUs.
    bundle_skus = models.JSONField(default=list, blank=True)
    # Spend tiers: a list of [minimum spend, value] pairs, as strings.
    tiers = models.JSONField(default=list, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="promotion_value_positive"),
            models.CheckConstraint(
                condition=~Q(exclusive=True, stackable=True),
                name="promotion_exclusive_or_stackable",
            ),
        ]

    def __str__(self) -> str:
        return self.name


def coupon_code_normalise(code: str) -> str:
    """Coupon codes ignore case and surrounding blanks: stored and looked up like this."""
    return code.strip().upper()


class Coupon(models.Model):
    """A code a buyer types. Stored normalised (`coupon_code_normalise`), so lookups are
    exact and use the unique index, and two codes can never differ only in case."""

    class Kind(models.TextChoices):
        PERCENT = "percent", "percent off the order"
        FIXED = "fixed", "fixed amount off the order"

    code = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    min_spend = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    used = models.PositiveIntegerField(default=0)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(used__lte=F("max_uses")),
                name="coupon_used_within_limit",
            ),
            models.CheckConstraint(condition=Q(value__gt=0), name="coupon_value_positive"),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.code = coupon_code_normalise(self.code)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Before validate_unique, so the admin refuses "summer10" beside "SUMMER10".
        self.code = coupon_code_normalise(self.code)
