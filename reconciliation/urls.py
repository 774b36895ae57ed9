from django.urls import path

from reconciliation import views

app_name = "reconciliation"

urlpatterns = [
    path("ops/exceptions.json", views.exceptions_data, name="data"),
    path(
        "ops/exceptions/<int:exception_id>/<slug:action>/",
        views.exception_action,
        name="act",
    ),
]
