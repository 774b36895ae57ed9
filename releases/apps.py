from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Releases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkout.interface import funnel_step_listen
        from releases import cohorts, spec, tasks  # noqa: F401  (tasks: the gate's beat task)

        # Each app's releases.py declares its flags (routes, steps, criteria).
        spec.autodiscover()
        # Checkout counts its funnel; the same steps are counted here per release cohort,
        # so the gate can compare completion between canary and control.
        funnel_step_listen(cohorts.release_funnel_step)
