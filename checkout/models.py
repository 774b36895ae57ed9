import secrets
from decimal import Decimal

from django.db import models
from django.db.models import Q


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_order_number() -> str:
    return "PS-" + secrets.token_hex(5).upper()


class Cart(models.Model):
    """A basket addressed by an unguessable token (cookie for pages, path for the API)."""

    class Status(models.TextChoices):
        OPEN = "open"
        CHECKED_OUT = "checked_out"

    token = models.CharField(max_length=64, unique=True, default=new_token)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    coupon_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.token[:8]


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, related_name="lines", on_delete=models.CASCADE)
    variant = models.ForeignKey("catalog.Variant", related_name="+", on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cartline_cart_variant_uniq"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cartline_quantity_min_1"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x variant {self.variant_id}"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "awaiting payment confirmation"
        PAID = "paid"
        PAYMENT_DECLINED = "payment_declined", "payment declined"
        PAYMENT_FAILED = "payment_failed", "payment unavailable"

    number = models.CharField(max_length=16, unique=True, default=new_order_number)
    access_token = models.CharField(max_length=64, unique=True, default=new_token)
    cart_token = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    email = models.EmailField()
    shipping_name = models.CharField(max_length=120)
    shipping_line1 = models.CharField(max_length=200)
    shipping_line2 = models.CharField(max_length=200, blank=True)
    shipping_city = models.CharField(max_length=100)
    shipping_postal_code = models.CharField(max_length=20)
    shipping_country = models.CharField(max_length=2)
    shipping_method = models.CharField(max_length=20)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    discount = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    coupon_code = models.CharField(max_length=40, blank=True)
    payment_reference = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Where the shipping price and the VAT rate came from (`checkout.charges`): live,
    # last_known, built_in, store_table (shipping) or none (tax). Blank on orders placed
    # before they were recorded.
    shipping_source = models.CharField(max_length=16, blank=True, default="", db_default="")
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    # The VAT contained in `total` (prices include VAT), at `tax_rate`.
    tax_total = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00")
    )
    tax_source = models.CharField(max_length=16, blank=True, default="", db_default="")
    # When the ERP acknowledged booking the order (the outbox's export succeeded).
    erp_booked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One live attempt per key: an attempt whose payment failed (no money moved)
            # steps aside, so a retry with the same key can make a new one.
            models.UniqueConstraint(
                fields=["cart_token", "idempotency_key"],
                condition=~Q(status="payment_failed"),
                name="order_idempotency_live_uniq",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_non_negative"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    """A snapshot of what was bought, at the price charged: later catalog edits leave it."""

    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    variant = models.ForeignKey("catalog.Variant", related_name="+", on_delete=models.PROTECT)
    sku = models.CharField(max_length=64)
    product_name = models.CharField(max_length=200)
    variant_name = models.CharField(max_length=120)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    discount = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class IdempotencyRecord(models.Model):
    """The first answer to a request made with an Idempotency-Key, kept for retries.

    A record is claimed (in flight) before the work starts, so a concurrent duplicate
    sees it and gets a 409 instead of doing the work twice; a lease lets a request whose
    process died be retried after `locked_until`. Completed answers are replayed;
    retryable ones (a fault, a payment still pending) let a retry run the work again.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight"
        COMPLETED = "completed"
        RETRYABLE = "retryable"

    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    locked_until = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class OutboxMessage(models.Model):
    """A side effect of an order, written in the order's transaction, delivered later.

    Written atomically with the state change it reports, so it can be neither lost (the
    order committed) nor sent for nothing (the order rolled back). One that fails
    CHECKOUT_OUTBOX_MAX_ATTEMPTS times is dead-lettered (`dead_at`) until requeued.
    """

    topic = models.CharField(max_length=64)
    dedupe_key = models.CharField(max_length=128, unique=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.dedupe_key
