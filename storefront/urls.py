from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("backoffice/v1/", include("storefront.backoffice_urls")),
    path("", include("storefront.api.urls")),
    path("", include("storefront.ops.urls")),
    path("", include("releases.urls")),
    path("", include("reconciliation.urls")),
    path("", include("storefront.pages.urls")),
]

handler404 = "storefront.pages.views.errors.page_not_found"
handler500 = "storefront.pages.views.errors.server_error"
