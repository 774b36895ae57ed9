from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The read model follows its sources: the owners publish what they changed after
        # commit (toolkit.changes), and search refreshes the affected documents in a task,
        # one per window of SEARCH_REFRESH_COALESCE_S for all the commits within it.
        from django.conf import settings

        from catalog.interface import PRODUCTS_CHANGED
        from inventory.interface import STOCK_CHANGED
        from pricing.interface import PRICES_CHANGED
        from search import tasks
        from toolkit import changes

        window = settings.SEARCH_REFRESH_COALESCE_S
        changes.subscribe(PRODUCTS_CHANGED, tasks.products_changed, coalesce_s=window)
        changes.subscribe(PRICES_CHANGED, tasks.variants_changed, coalesce_s=window)
        changes.subscribe(STOCK_CHANGED, tasks.variants_changed, coalesce_s=window)
