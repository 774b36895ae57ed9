"""Back-office write endpoints: off the public contract, off unless a token is set."""

from django.urls import path

from storefront import backoffice

app_name = "backoffice"

urlpatterns = [
    path("prices/<str:sku>", backoffice.price_set, name="price-set"),
    path("stock/<str:sku>", backoffice.stock_set, name="stock-set"),
]
