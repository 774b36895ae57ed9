"""Placeholder; the API work replaces it with the error-shape exception handler."""

from rest_framework.views import exception_handler as api_exception_handler  # noqa: F401
