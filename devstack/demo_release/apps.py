from django.apps import AppConfig


class DemoReleaseConfig(AppConfig):
    name = "devstack.demo_release"
    label = "demo_release"
    verbose_name = "Deploy scenario's release (demo only)"
