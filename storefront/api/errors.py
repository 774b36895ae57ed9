"""The API's one error shape, and the exception handler that produces it everywhere.

Every error under /api/ answers with
`{"error": {"code": "<stable_machine_code>", "message": "<human text>", "details": {...}}}`.
Users' scripts match on `code`, so a code never changes meaning once published.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from toolkit.errors import DomainError, NotFound

logger = logging.getLogger(__name__)

# Every code a client can see, with what it means. A test checks that every domain error
# reachable from the API is listed, so this table (and the docs built from it) cannot drift.
ERROR_CODES: dict[str, str] = {
    "invalid_request": "The body or query failed validation; `details.fields` names each field.",
    "malformed_json": "The body is not valid JSON.",
    "json_too_deep": "The JSON body nests objects and arrays deeper than the API reads.",
    "payload_too_large": "The body is larger than the API accepts (see the schema's limits).",
    "unsupported_media_type": "The body is not `application/json`.",
    "not_acceptable": "The client does not accept `application/json`.",
    "method_not_allowed": "The path exists but not with this HTTP method.",
    "not_found": "No such path or resource.",
    "invalid_page": "`page` is not a whole number from 1 to the last page.",
    "invalid_cursor": "`cursor` is not one this server issued for this search; start again.",
    "category_not_found": "No category has that slug.",
    "product_not_found": "No published product has that slug.",
    "cart_not_found": "No cart has that token.",
    "cart_line_not_found": "The cart has no line with that id.",
    "cart_not_open": "The cart has already been checked out.",
    "cart_empty": "An order needs at least one line.",
    "cart_not_purchasable": "Some lines are no longer for sale.",
    "cart_too_large": "The cart already holds the maximum number of different items.",
    "invalid_quantity": "Quantity is outside 1..the per-line cap.",
    "unknown_sku": "No product has that SKU.",
    "insufficient_stock": "Not enough units available; `details.available` says how many.",
    "reservation_limit": "This client already holds its share of the item's stock; "
    "`details.maximum` is the cap, `details.available` how many more this cart may hold.",
    "invalid_coupon": "The coupon code is not valid.",
    "coupon_unavailable": "The coupon has no uses left.",
    "unknown_shipping_method": (
        "No shipping method has that code, or it does not deliver to the address's country; "
        "`details.choices` lists those that do."
    ),
    "idempotency_key_missing": "`POST /api/v1/orders/` needs an `Idempotency-Key` header.",
    "idempotency_key_invalid": "The `Idempotency-Key` is not printable or is over 255 characters.",
    "idempotency_key_reused": "The `Idempotency-Key` was already used for a different request.",
    "idempotency_request_in_flight": "The first request with this key is still running; retry.",
    "order_not_found": "No such order, or the order token is missing or wrong.",
    "payment_declined": "The payment was declined; the cart is still open.",
    "payment_unavailable": "The payment gateway is unavailable; nothing was charged.",
    "release_permission_denied": "`/ops/releases/`: the user may not take that rollout action.",
    "release_action_invalid": "`/ops/releases/`: the flag's state does not allow that action.",
    "throttled": "Too many requests; `details.retry_after` says how many seconds to wait.",
    "internal_error": "A fault on the server's side; the request may be retried.",
}

# DRF's default codes, renamed where ours say more; the rest pass through unchanged.
_DRF_CODES = {
    "invalid": "invalid_request",
    "parse_error": "malformed_json",
}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class CategoryNotFound(NotFound):
    code = "category_not_found"


class ProductNotFound(NotFound):
    code = "product_not_found"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def api_path(path: str) -> bool:
    """Whether a path is the API's, so its errors take the error shape."""
    return path.startswith("/api/")


def error_response(
    code: str, message: str, *, status: int, details: dict[str, Any] | None = None
) -> JsonResponse:
    """The error shape outside DRF: for middleware that answers before any API view."""
    return JsonResponse(error_body(code, message, details), status=status)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Turn any exception raised in an API view into the error shape.

    Domain errors carry their own code and status. DRF and Django errors are mapped to
    stable codes. Anything else is a bug: it is logged with its traceback and answered
    with a 500 in the same shape, so clients never have to parse an HTML error page.
    """
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()  # Django's own check of DATA_UPLOAD_MAX_MEMORY_SIZE
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ValidationError({"non_field_errors": [str(exc)]})
    if not isinstance(exc, exceptions.APIException):
        request = context.get("request")
        logger.error(
            "unhandled API error on %s",
            getattr(request, "path", "?"),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        set_rollback()
        return Response(
            error_body("internal_error", "Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    # DRF's handler sets the headers that belong to the error (Allow, Retry-After, ...).
    response = drf_exception_handler(exc, context)
    assert response is not None  # DRF's handler answers every APIException
    response.data = _describe(exc)
    return response


def _describe(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_body(
            "invalid_request", "Some fields are missing or not valid.", {"fields": fields}
        )
    code = _DRF_CODES.get(exc.default_code, exc.default_code)
    details: dict[str, Any] = {}
    if isinstance(exc, exceptions.Throttled):
        wait: float | None = exc.wait  # type: ignore[attr-defined]  # set by DRF, not in its stubs
        if wait is not None:
            details["retry_after"] = int(wait)
    return error_body(code, str(exc.detail), details)


@csrf_exempt
def api_not_found(request: HttpRequest) -> JsonResponse:
    """Answer an unknown /api/ path with the error shape instead of the HTML 404 page."""
    return error_response(
        "not_found", "No API endpoint at this path.", status=status.HTTP_404_NOT_FOUND
    )
