from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone


class Stock(models.Model):
    """Units of one SKU: on hand in the warehouse, and allocated to unpaid orders.

    The database, not the code, guarantees allocated never exceeds on hand.
    """

    variant = models.OneToOneField(
        "catalog.Variant", related_name="+", on_delete=models.CASCADE, primary_key=True
    )
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_non_negative"),
            models.CheckConstraint(
                condition=Q(allocated__gte=0), name="stock_allocated_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(allocated__lte=F("on_hand")), name="stock_allocated_within_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return f"variant {self.variant_id}: {self.on_hand} on hand, {self.allocated} allocated"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


class StockMovement(models.Model):
    """Append-only ledger: summing the deltas per SKU gives its stock row back."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt"
        ALLOCATION = "allocation"
        RELEASE = "release"
        SALE = "sale"
        ADJUSTMENT = "adjustment"

    variant = models.ForeignKey("catalog.Variant", related_name="+", on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    on_hand_delta = models.IntegerField(default=0)
    allocated_delta = models.IntegerField(default=0)
    reference = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["variant", "created_at"], name="movement_variant_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.variant_id} {self.reference}"


class Reservation(models.Model):
    """Units a cart holds for a while, so a buyer who added them can still check out.

    Soft: it expires on its own, so carts that are abandoned (or held by a bot) give
    their units back without anyone cleaning up. Activity renews it, but never past
    INVENTORY_RESERVATION_MAX_LIFETIME after the holder's first hold (`held_since`, the
    same on every row of a holder). Expired rows are ignored by every read and purged
    by a periodic task one lifetime later, so a cart cannot start its clock over at once.
    """

    variant = models.ForeignKey("catalog.Variant", related_name="+", on_delete=models.CASCADE)
    holder = models.CharField(max_length=64)
    # The client who asked (toolkit.clients.client_key, opaque): its holds on a SKU,
    # across all its carts, are capped at a share of the stock.
    # Database defaults too, so code still running during a deploy can insert without them.
    client = models.CharField(max_length=64, blank=True, default="", db_default="")
    quantity = models.PositiveIntegerField()
    held_since = models.DateTimeField(default=timezone.now, db_default=Now())
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["holder", "variant"], name="reservation_holder_uniq"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="reservation_quantity_min_1"),
        ]
        indexes = [models.Index(fields=["variant", "expires_at"], name="reservation_active_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} x variant {self.variant_id} for {self.holder[:8]}"
