"""Request bodies capped before anything reads them, on every page and endpoint.

`RequestBodyLimitMiddleware` refuses a body declared larger than
`DATA_UPLOAD_MAX_MEMORY_SIZE` with a 413 (the API's error shape under /api/, a plain
page elsewhere). Django checks the same setting only once something reads the body, and
a view that reads it through DRF would turn the error into a 500; a server never reads
more than the declared `Content-Length`, and with no length it reads nothing, so
answering on the declaration alone is enough. JSON nesting is bounded where JSON is
parsed (`storefront.api.parsers`).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from storefront.api.errors import api_path, error_response
from toolkit.query import whole_number
from toolkit.settings_cache import setting

_CONTENT_LENGTH = whole_number(maximum=10**18)


class RequestBodyLimitMiddleware:
    """413 for a body past the cap, 400 for a `Content-Length` that is not a number.

    Inside the request metrics, so a refusal is counted as its route's 4xx; before the
    page cache, sessions and CSRF, none of which needs to see such a request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        declared = request.META.get("CONTENT_LENGTH")
        limit = setting("DATA_UPLOAD_MAX_MEMORY_SIZE")
        if declared and limit is not None:
            try:
                size = int(_CONTENT_LENGTH(declared))
            except ValueError:
                return _refused(
                    request, 400, "invalid_request", "Content-Length is not a whole number."
                )
            if size > limit:
                return _refused(
                    request,
                    413,
                    "payload_too_large",
                    f"The request body is larger than {limit} bytes.",
                )
        return self.get_response(request)


def _refused(request: HttpRequest, status: int, code: str, message: str) -> HttpResponseBase:
    if api_path(request.path):
        return error_response(code, message, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
