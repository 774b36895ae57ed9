"""Request and response shapes of API v1.

Input serializers check shape only: types, required fields, lengths and ranges. Business
rules (is there stock, is the coupon valid) stay in the domain services, which raise
DomainErrors the exception handler turns into the error shape. Output serializers render
the frozen dataclasses the selectors return; they never touch the ORM.

Input fields are strict: a string field takes a JSON string (not a number or a boolean)
with no control characters, read by toolkit.query's parsers like every other input; an
integer field takes a JSON integer; a decimal is written in ASCII.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import serializers

from catalog.interface import PRODUCT_SORTS
from search.interface import MAX_QUERY_LENGTH, SEARCH_SORTS
from storefront.api.errors import ERROR_CODES
from toolkit.query import decimal as ascii_decimal
from toolkit.query import printable, token

# Longest string any input field reads when it states no max_length of its own.
MAX_INPUT_STRING = 1000
# Syntax only (ASCII, finite, at most 24 characters): each field states its own range.
_ANY_DECIMAL = ascii_decimal(minimum=Decimal(-(10**15)), maximum=Decimal(10**15))
MAX_CURSOR_LENGTH = 500


class _StrictString:
    """A JSON string read by a toolkit.query parser (`printable` unless given another).

    A field with a pattern (slug, regex, e-mail) is matched as sent, not trimmed first:
    its pattern, as the schema states it, is its whole rule ("a:" and an em space would
    pass the pattern, then fail it trimmed to "a:"; " DE" would fail it, then pass).
    """

    trimmed = True

    def __init__(
        self, *args: Any, parse: Callable[[str], str] | None = None, **kwargs: Any
    ) -> None:
        if not self.trimmed:
            kwargs.setdefault("trim_whitespace", False)
        super().__init__(*args, **kwargs)
        self.parse = parse or printable(max_length=kwargs.get("max_length") or MAX_INPUT_STRING)

    def to_internal_value(self, data: object) -> Any:
        if not isinstance(data, str):  # CharField would take 5 or 1.5 and make it "5"
            raise serializers.ValidationError("Must be a string.", code="invalid")
        try:
            self.parse(data)
        except ValueError as error:
            raise serializers.ValidationError(f"This value {error}.", code="invalid") from None
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(_StrictString, serializers.CharField):
    pass


class StrictSlugField(_StrictString, serializers.SlugField):
    trimmed = False


class StrictRegexField(_StrictString, serializers.RegexField):
    trimmed = False


class StrictEmailField(_StrictString, serializers.EmailField):
    trimmed = False


class StrictDecimalField(serializers.DecimalField):
    """A decimal written in ASCII digits (`Decimal` accepts "١٢"), within its bounds."""

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, str):
            try:
                _ANY_DECIMAL(data)
            except ValueError:
                self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer that arrived as a JSON number: no strings, floats or booleans.

    DRF's IntegerField accepts "5", 5.0 and True; a client sending those has a bug it
    should hear about rather than have guessed away.
    """

    default_error_messages = {"invalid": "Must be a whole number, not a string or a decimal."}

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class QuantityField(StrictIntegerField):
    """A line quantity in 1..CHECKOUT_MAX_LINE_QUANTITY.

    The cap is read whenever a serializer is built (DRF re-creates declared fields from
    their arguments each time), not once at import, so it always matches the setting.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", settings.CHECKOUT_MAX_LINE_QUANTITY)
        super().__init__(**kwargs)


# Errors


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable machine-readable code. One of: "
        + ", ".join(f"`{code}`" for code in ERROR_CODES)
        + "."
    )
    message = serializers.CharField(help_text="Human-readable text; may change, do not match.")
    details = serializers.DictField(
        help_text="Structured context, e.g. `fields` for invalid_request, `available` for "
        "insufficient_stock."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# Catalog and search


class ProductListQuerySerializer(serializers.Serializer):
    category = StrictSlugField(
        required=False, max_length=140, help_text="Only products in this category's subtree."
    )
    brand = serializers.ListField(
        child=StrictSlugField(max_length=140),
        required=False,
        max_length=20,
        help_text="Only products of these brands; repeat the parameter for several.",
    )
    sort = serializers.ChoiceField(choices=sorted(PRODUCT_SORTS), default="popular")


class SearchQuerySerializer(serializers.Serializer):
    q = StrictCharField(required=False, allow_blank=True, max_length=MAX_QUERY_LENGTH, default="")
    category = StrictSlugField(
        required=False, max_length=140, help_text="Only products in this category's subtree."
    )
    brand = serializers.ListField(
        child=StrictSlugField(max_length=140),
        required=False,
        max_length=20,
        help_text="Only these brands; repeat the parameter for several.",
    )
    price_min = StrictDecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), required=False
    )
    price_max = StrictDecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), required=False
    )
    attr = serializers.ListField(
        child=StrictRegexField(r"^[\w -]{1,40}:.{1,80}$"),
        required=False,
        max_length=20,
        help_text="`name:value`, e.g. `colour:red`; values of one name are alternatives.",
    )
    in_stock = serializers.BooleanField(required=False, default=False)
    sort = serializers.ChoiceField(choices=SEARCH_SORTS, default="relevance")
    cursor = StrictCharField(
        required=False,
        max_length=MAX_CURSOR_LENGTH,
        parse=token(max_length=MAX_CURSOR_LENGTH),
        help_text="`next` of the previous page, as given.",
    )


class SuggestQuerySerializer(serializers.Serializer):
    q = StrictCharField(required=False, allow_blank=True, max_length=MAX_QUERY_LENGTH, default="")


class BrandSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class ProductListItemSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    brand = BrandSerializer()
    url = serializers.CharField(help_text="The product's storefront page.")
    api_url = serializers.CharField(help_text="This product in the API.")
    image_url = serializers.CharField()
    price_from = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="Lowest price over the product's variants; null if none is for sale.",
    )
    currency = serializers.CharField()
    in_stock = serializers.BooleanField(help_text="At least one variant can be bought now.")


class ProductPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    num_pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = ProductListItemSerializer(many=True)


class FacetValueSerializer(serializers.Serializer):
    value = serializers.CharField()
    # DRF's metaclass takes declared fields off the class; the stubs see Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()


class AttributeFacetSerializer(serializers.Serializer):
    name = serializers.CharField()
    values = FacetValueSerializer(many=True)


class SearchFacetsSerializer(serializers.Serializer):
    categories = FacetValueSerializer(many=True, help_text="Leaf categories, by path.")
    brands = FacetValueSerializer(many=True, help_text="By brand slug, most products first.")
    price_ranges = FacetValueSerializer(many=True, help_text="`low-high`; `500-` is open.")
    attributes = AttributeFacetSerializer(many=True)
    in_stock = serializers.IntegerField()


class SearchPageSerializer(serializers.Serializer):
    query = serializers.CharField(help_text="The query as searched (whitespace collapsed).")
    sort = serializers.CharField()
    count = serializers.IntegerField(help_text="Matches, counted up to a limit.")
    count_capped = serializers.BooleanField(help_text="True when there are more than `count`.")
    next = serializers.CharField(allow_null=True, help_text="The next page (a signed cursor).")
    results = ProductListItemSerializer(many=True)
    facets = SearchFacetsSerializer(
        allow_null=True, help_text="Null when left out to stay within the latency budget."
    )
    degraded = serializers.BooleanField(help_text="True when facets were left out.")
    notices = serializers.ListField(child=serializers.CharField())


class SuggestionSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    url = serializers.CharField()


class SuggestionListSerializer(serializers.Serializer):
    query = serializers.CharField()
    suggestions = SuggestionSerializer(many=True)


class CategoryLinkSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField()


class ImageSerializer(serializers.Serializer):
    url = serializers.CharField()
    alt = serializers.CharField()


class VariantSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    attributes = serializers.DictField(child=serializers.CharField())
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    available = serializers.IntegerField(help_text="Units that can be bought now.")


class ProductDetailSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    brand = BrandSerializer()
    category = CategoryLinkSerializer()
    breadcrumbs = CategoryLinkSerializer(many=True, help_text="Root first, own category last.")
    url = serializers.CharField()
    images = ImageSerializer(many=True)
    variants = VariantSerializer(many=True)
    price_from = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    in_stock = serializers.BooleanField()


class CategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    # DRF's metaclass takes declared fields off the class; the stubs see Field.parent.
    parent = serializers.CharField(allow_null=True, help_text="The parent's slug.")  # type: ignore[assignment]
    depth = serializers.IntegerField(help_text="0 for a root category.")
    url = serializers.CharField(help_text="The category's storefront page.")
    products_url = serializers.CharField(help_text="Its products in the API.")


class CategoryListSerializer(serializers.Serializer):
    results = CategorySerializer(many=True, help_text="Every category, depth-first.")


# Carts


class CartCreatedSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Unguessable; whoever holds it owns the cart.")


class CartLineAddSerializer(serializers.Serializer):
    sku = StrictCharField(max_length=64)
    quantity = QuantityField()


class CartLineUpdateSerializer(serializers.Serializer):
    quantity = QuantityField()


class CouponApplySerializer(serializers.Serializer):
    code = StrictCharField(max_length=40, allow_blank=True, help_text="Blank removes it.")


class CouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    applied = serializers.BooleanField()
    reason = serializers.CharField()
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)


class CartLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    product_name = serializers.CharField()
    product_slug = serializers.CharField()
    variant_name = serializers.CharField()
    image_url = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="Null when the SKU is no longer for sale.",
    )
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    promotion = serializers.CharField(allow_null=True)
    available = serializers.IntegerField()


class PromotionOutcomeSerializer(serializers.Serializer):
    name = serializers.CharField()
    applied = serializers.BooleanField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    reason = serializers.CharField(help_text="`applied`, or why the promotion did not apply.")


class CartSerializer(serializers.Serializer):
    token = serializers.CharField()
    is_open = serializers.BooleanField(help_text="False once the cart became an order.")
    lines = CartLineSerializer(many=True)
    item_count = serializers.IntegerField()
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    coupon = CouponSerializer(allow_null=True)
    explanation = PromotionOutcomeSerializer(
        many=True, help_text="Promotions that applied, and why the others did not."
    )


# Orders


class ShippingAddressSerializer(serializers.Serializer):
    name = StrictCharField(max_length=120)
    line1 = StrictCharField(max_length=200)
    line2 = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    city = StrictCharField(max_length=100)
    postal_code = StrictCharField(max_length=20)
    country = StrictRegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166-1 alpha-2 code, e.g. `DE`.")


class OrderCreateSerializer(serializers.Serializer):
    """What a client may send. Prices, totals and discounts are not among them: the
    server computes every amount, and unknown fields are ignored."""

    cart = StrictCharField(max_length=64, help_text="The cart token.")
    email = StrictEmailField(max_length=254)
    shipping_address = ShippingAddressSerializer()
    shipping_method = StrictCharField(
        max_length=20, default="standard", help_text="`standard` or `express`."
    )
    payment_token = StrictCharField(
        max_length=100, help_text="Simulated: `tok_ok`, `tok_decline`, `tok_timeout`."
    )


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    product_name = serializers.CharField()
    variant_name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderSerializer(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField(
        help_text="`paid`, `pending_payment` (the gateway has not answered yet), "
        "`payment_declined` or `payment_failed`."
    )
    status_label = serializers.CharField()
    token = serializers.CharField(
        source="access_token",
        help_text="The order access token: send it as `?token=` or `X-Order-Token` to read "
        "the order.",
    )
    email = serializers.EmailField()
    shipping_address = ShippingAddressSerializer()
    shipping_method = serializers.CharField()
    lines = OrderLineSerializer(many=True)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    shipping_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    coupon_code = serializers.CharField()
    created_at = serializers.DateTimeField()
