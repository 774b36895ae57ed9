from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "checkout"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkout.selectors import units_sold_unbooked
        from inventory.interface import stock_unbooked_sales_listen

        # The ERP stock sync must not restock units sold but not yet booked in the ERP.
        stock_unbooked_sales_listen(units_sold_unbooked)
