"""The baseline benchmarks divide by: a Django view that returns a constant.

Routed only when `PEAKSTORE_BENCH_ROUTES=1` (the benchmark commands set it for the stack
they boot), so a production URLconf never has it. It goes through the same middleware
as every page, so a page's ratio to it is what the page itself costs.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_safe

BARE_BODY = b"ok\n"


@require_safe
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BARE_BODY, content_type="text/plain")


urlpatterns = [path("bench/bare/", bare, name="bench-bare")]
