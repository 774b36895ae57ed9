"""A URLconf with views that misbehave on purpose, for the request-metrics tests."""

from django.contrib.auth.models import Group
from django.http import HttpResponse
from django.urls import path
from prometheus_client import REGISTRY


def n_plus_one(request):
    # One query per group: the shape the duplicate-query metric exists to catch.
    names = [Group.objects.filter(pk=pk).values_list("name", flat=True).first() for pk in (1, 2, 3)]
    return HttpResponse(str(len(names)))


def broken(request):
    raise RuntimeError("a bug")


def in_flight(request):
    value = REGISTRY.get_sample_value("peakstore_http_requests_in_flight")
    return HttpResponse(str(int(value)))


app_name = "misbehaving"

urlpatterns = [
    path("n-plus-one/", n_plus_one, name="n-plus-one"),
    path("broken/", broken, name="broken"),
    path("in-flight/", in_flight, name="in-flight"),
]
