from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    verbose_name = "Reconciliation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from reconciliation import tasks  # noqa: F401  (the beat tasks)
