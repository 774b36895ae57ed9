"""A bare Django project: one view returning a constant, no middleware, no installed apps.

The baseline `bench_throughput` divides the store's throughput by, served under the
store's gunicorn settings: `gunicorn devstack.bare_django:application`. Importing this
module configures Django, so only a server process that serves it may import it.
"""

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import re_path

BODY = b"ok\n"

settings.configure(
    DEBUG=False,
    SECRET_KEY="devstack-bare-django-serves-a-constant",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)


def constant(request: HttpRequest) -> HttpResponse:
    """Answer with the same few bytes, whatever was asked."""
    return HttpResponse(BODY, content_type="text/plain")


# Any path: the benchmark sends this server the very request lines it sends the store.
urlpatterns = [re_path(r"", constant)]

application = get_wsgi_application()
