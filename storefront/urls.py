from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("storefront.api.urls")),
    path("", include("storefront.pages.urls")),
]
