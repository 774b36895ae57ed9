from django.apps import AppConfig


class DevstackConfig(AppConfig):
    """Development tooling: the stack runner, seeding, the demo, load and bench commands.

    Installed in every profile but production: it owns no models, and a production
    server starts gunicorn and Celery itself instead of `run_stack`.
    """

    name = "devstack"
    verbose_name = "Development stack"
