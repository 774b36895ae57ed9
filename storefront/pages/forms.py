"""Forms check the shape of what a visitor posts; the checkout app checks the rules."""

import uuid

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator

from checkout.interface import SHIPPING_METHODS
from storefront.pages.shell import CURRENCY_SYMBOLS
from toolkit.query import printable, whole_number

PAYMENT_TEST_CARDS = (
    ("tok_ok", "Test card — succeeds"),
    ("tok_decline", "Test card — declined"),
    ("tok_timeout", "Test card — gateway times out"),
)

_WHOLE_NUMBER = {"invalid": "Quantity must be a whole number.", "required": "Enter a quantity."}


class WholeNumberField(forms.IntegerField):
    """An integer in ASCII digits (toolkit.query.whole_number): `int` takes "١٢"."""

    _parse = staticmethod(whole_number(minimum=-(10**9), maximum=10**9))

    def to_python(self, value: object) -> int | None:
        if value in self.empty_values:
            return None
        try:
            return int(self._parse(str(value)))
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class LineField(forms.CharField):
    """One line of typed text: no control characters (toolkit.query.printable)."""

    def validate(self, value: str) -> None:
        super().validate(value)
        try:
            printable(max_length=self.max_length or 1000)(value)
        except ValueError as error:
            raise forms.ValidationError(f"This field {error}.", code="invalid") from None


class AddToCartForm(forms.Form):
    sku = LineField(max_length=64, error_messages={"required": "Choose a variant."})
    # No range here: the per-line cap is a checkout rule, and checkout says it best.
    quantity = WholeNumberField(error_messages=_WHOLE_NUMBER)


class LineQuantityForm(forms.Form):
    quantity = WholeNumberField(error_messages=_WHOLE_NUMBER)


class CouponForm(forms.Form):
    # Blank removes the coupon.
    code = LineField(max_length=40, required=False, strip=True)


def _shipping_choices() -> list[tuple[str, str]]:
    symbol = CURRENCY_SYMBOLS.get(settings.STORE_CURRENCY, f"{settings.STORE_CURRENCY} ")
    choices = []
    for method in SHIPPING_METHODS.values():
        label = f"{method.label} — {symbol}{method.price}"
        if method.free_over is not None:
            label += f" (free over {symbol}{method.free_over})"
        choices.append((method.code, label))
    return choices


class CheckoutForm(forms.Form):
    email = forms.EmailField(max_length=254)
    name = LineField(max_length=120, label="Full name")
    line1 = LineField(max_length=200, label="Address")
    line2 = LineField(max_length=200, required=False, label="Address line 2 (optional)")
    city = LineField(max_length=100)
    postal_code = LineField(max_length=20, label="Postal code")
    country = forms.CharField(
        min_length=2,
        max_length=2,
        label="Country code",
        help_text="Two letters, such as DE, FR or GB.",
        validators=[RegexValidator(r"^[A-Za-z]{2}$", "Enter a two-letter country code.")],
    )
    shipping_method = forms.ChoiceField(
        choices=_shipping_choices,
        widget=forms.RadioSelect,
        initial="standard",
        # The order is charged the carrier's rate for the country (checkout.charges).
        help_text="Prices to Germany; other countries pay the carrier's rate for the zone, "
        "shown on the order.",
    )
    payment_token = forms.ChoiceField(
        choices=PAYMENT_TEST_CARDS, widget=forms.RadioSelect, label="Payment", initial="tok_ok"
    )
    # Generated when the form is rendered, so a double submit of this form places one order.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_country(self) -> str:
        return self.cleaned_data["country"].upper()
