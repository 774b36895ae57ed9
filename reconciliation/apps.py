from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    verbose_name = "Reconciliation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkout.interface import audit_acknowledged_listen
        from reconciliation import tasks  # noqa: F401  (the beat tasks)
        from reconciliation.selectors import audit_findings_owned

        # The order audit lists a problem an open exception owns as known, not failing.
        audit_acknowledged_listen(audit_findings_owned)
