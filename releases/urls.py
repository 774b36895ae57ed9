"""Release paths under /ops/ (staff only)."""

from django.urls import path

from releases import views

app_name = "releases"

urlpatterns = [
    path("ops/releases.json", views.releases_data, name="data"),
    path("ops/releases/<slug:name>/<str:action>/", views.release_decision, name="decide"),
]
