"""Operations paths: public contract, like /healthz and /readyz: users' scripts use them."""

from django.urls import path

from storefront.ops import views

app_name = "ops"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("ops/", views.dashboard, name="dashboard"),
    path("ops/data.json", views.dashboard_data_json, name="data"),
    path("ops/traces/", views.traces, name="traces"),
    path("ops/traces/<str:trace_id>/", views.trace_detail, name="trace"),
]
