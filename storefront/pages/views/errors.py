"""Error pages. Pages get the store's layout; API paths get the API's JSON error shape."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from storefront.pages.shell import PageMeta, render_page


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _api_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Render 404.html inside the store layout, so a lost visitor can browse on."""
    if _is_api(request):
        return _api_error("not_found", "No such path or resource.", 404)
    # No canonical link: a missing page has no URL worth pointing search engines at.
    meta = PageMeta(
        title="Page not found",
        description="The page you asked for does not exist.",
        canonical_url="",
        robots="noindex",
    )
    return render_page(request, "404.html", meta=meta, status=404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """Render 500.html without touching the database, which may be what failed."""
    if _is_api(request):
        return _api_error("server_error", "Something went wrong on our side.", 500)
    html = loader.get_template("500.html").render({"STORE_NAME": settings.STORE_NAME})
    return HttpResponse(html, status=500)


def too_many_requests(request: HttpRequest, *, wait: int) -> HttpResponse:
    """Answer a throttled form post (storefront.throttling) with a plain 429 page."""
    meta = PageMeta(
        title="Too many requests",
        description="Too many requests from this address.",
        canonical_url="",
        robots="noindex",
    )
    response = render_page(request, "429.html", meta=meta, status=429, retry_after=wait)
    response["Retry-After"] = str(wait)
    return response
