"""The cart token's cookie: HttpOnly (scripts never see it), SameSite=Lax, 30 days."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from toolkit.query import url_token

MAX_AGE_SECONDS = 30 * 24 * 3600


def cart_token(request: HttpRequest) -> str | None:
    """Return the visitor's cart token, ignoring a cookie that cannot be one."""
    try:
        return url_token(request.COOKIES.get(settings.CHECKOUT_CART_COOKIE, ""))
    except ValueError:
        return None


def remember_cart(response: HttpResponse, token: str) -> None:
    response.set_cookie(
        settings.CHECKOUT_CART_COOKIE,
        token,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def forget_cart(response: HttpResponse) -> None:
    response.delete_cookie(settings.CHECKOUT_CART_COOKIE, samesite="Lax")
