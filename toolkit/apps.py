from django.apps import AppConfig


class ToolkitConfig(AppConfig):
    name = "toolkit"
    verbose_name = "Toolkit"

    def ready(self) -> None:
        from django.urls import register_converter

        from toolkit.cache.registry import autodiscover
        from toolkit.query import PATH_CONVERTERS

        # Before any URLconf is read: every app's paths use the same strict segments.
        for name, converter in PATH_CONVERTERS.items():
            register_converter(converter, name)

        # Each app's caches.py declares its namespaces, so the registry is complete
        # before the first request, the audit or `cache_registry` reads it.
        autodiscover()

        from django.conf import settings
        from django.core.cache import close_caches
        from django.core.signals import request_finished

        from toolkit.cache.backends import close_after_request_needed

        redis_close = getattr(settings, "DJANGO_REDIS_CLOSE_CONNECTION", False)
        if not close_after_request_needed(settings.CACHES, redis_close=redis_close):
            request_finished.disconnect(close_caches)

        from toolkit.request_cycle import request_signals_trim

        request_signals_trim(debug=settings.DEBUG)

        from toolkit.tracing.django import tracing_setup

        # Before the handler builds its middleware chain, which the Django
        # instrumentation joins (PEAKSTORE_TRACING=0: nothing is installed).
        tracing_setup()
