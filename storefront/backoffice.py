"""Back-office writes over HTTP: what a PIM or ERP connector does while the store sells.

Two endpoints, off the public contract (not in the OpenAPI schema, not under /api/),
switched on only when `PEAKSTORE_BACKOFFICE_TOKEN` is set, and then only for requests
that carry it as `Authorization: Bearer <token>`:

- `PUT  /backoffice/v1/prices/<sku>` `{"amount": "19.90"}` sets the SKU's base price;
- `POST /backoffice/v1/stock/<sku>` `{"add": N}` or `{"set": N}`, with `"reason"`,
  corrects on-hand stock through the ledger.

Load tests use them to write prices and stock during a spike, through the owners'
services, so cache invalidation and stock locking run as they do in production.
"""

import json
import secrets
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from catalog.interface import variants_by_skus
from inventory.interface import stock_adjust
from pricing.interface import PriceInput, prices_import
from toolkit.errors import DomainError
from toolkit.query import json_depth_check, printable

BASE_PRICE_LIST = "base"
MAX_AMOUNT = Decimal("1000000")


class BadRequest(DomainError):
    code = "invalid_request"
    status = 400


def _error(status: int, code: str, message: str, **details: object) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )


def _authorized(request: HttpRequest) -> bool:
    """Raise 404 while the back office is off; True if the bearer token matches."""
    token = settings.STOREFRONT_BACKOFFICE_TOKEN
    if not token:
        raise Http404("the back-office API is off")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(given.encode(), token.encode())


def _body(request: HttpRequest) -> dict:
    try:
        json_depth_check(request.body)
        body = json.loads(request.body or b"{}")
    except ValueError:  # JsonTooDeep included: 5,000 levels would overflow `json`
        raise BadRequest("The body is not JSON (or nests too deep).") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


_SKU = printable(max_length=64)


def _variant_id(sku: str) -> int:
    try:
        sku = _SKU(sku)
    except ValueError:
        raise Http404("not a SKU") from None  # a NUL would make PostgreSQL raise
    variant = variants_by_skus(skus=[sku]).get(sku)
    if variant is None:
        raise Http404(f"no SKU {sku!r}")
    return variant.id


def _whole_number(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 10**9:
        raise BadRequest(f"{name} must be a whole number.", field=name)
    return value


def _handle(request: HttpRequest, write: Callable[[dict], JsonResponse]) -> JsonResponse:
    if not _authorized(request):
        return _error(401, "unauthorized", "A valid back-office token is required.")
    try:
        return write(_body(request))
    except DomainError as error:
        return _error(error.status, error.code, error.message, **error.details)


@csrf_exempt
@require_http_methods(["PUT"])
def price_set(request: HttpRequest, sku: str) -> JsonResponse:
    """Set one SKU's base price. Two queries and a bulk upsert."""

    def write(body: dict) -> JsonResponse:
        try:
            amount = Decimal(str(body.get("amount")))
        except InvalidOperation:
            raise BadRequest("amount must be a decimal number.", field="amount") from None
        exponent = amount.as_tuple().exponent  # a letter for NaN and infinity, else an int
        if not (Decimal(0) < amount < MAX_AMOUNT) or not isinstance(exponent, int) or exponent < -2:
            raise BadRequest("amount must be positive with at most 2 decimals.", field="amount")
        variant_id = _variant_id(sku)
        prices_import(
            price_list_code=BASE_PRICE_LIST,
            prices=[PriceInput(variant_id=variant_id, amount=amount)],
        )
        return JsonResponse({"sku": sku, "amount": str(amount)})

    return _handle(request, write)


@csrf_exempt
@require_http_methods(["POST"])
def stock_set(request: HttpRequest, sku: str) -> JsonResponse:
    """Add to or set one SKU's on-hand stock, with a reason, through the stock ledger."""

    def write(body: dict) -> JsonResponse:
        if ("add" in body) == ("set" in body):
            raise BadRequest("Give exactly one of add or set.")
        reason = str(body.get("reason") or "back-office correction")
        variant_id = _variant_id(sku)
        if "add" in body:
            on_hand = stock_adjust(
                variant_id=variant_id, add=_whole_number(body["add"], "add"), reason=reason
            )
        else:
            on_hand = stock_adjust(
                variant_id=variant_id, set_to=_whole_number(body["set"], "set"), reason=reason
            )
        return JsonResponse({"sku": sku, "on_hand": on_hand})

    return _handle(request, write)
