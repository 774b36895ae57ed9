from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The read model follows its sources: the owners publish what they changed after
        # commit (toolkit.changes), and search refreshes the affected documents in a task.
        from search import tasks
        from toolkit import changes

        changes.subscribe("catalog.products", tasks.products_changed)
        changes.subscribe("pricing.prices", tasks.variants_changed)
        changes.subscribe("inventory.stock", tasks.variants_changed)
