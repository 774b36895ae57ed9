from django.apps import AppConfig


class ToolkitConfig(AppConfig):
    name = "toolkit"
    verbose_name = "Toolkit"

    def ready(self) -> None:
        from toolkit.cache.registry import autodiscover

        # Each app's caches.py declares its namespaces, so the registry is complete
        # before the first request, the audit or `cache_registry` reads it.
        autodiscover()
