"""Write the SLO burn-rate rules for Prometheus from the ownership manifest.

`python manage.py slo_rules` writes docs/ops/prometheus-slo-rules.yml; `--check` exits
non-zero when the committed file differs (the tests run the same comparison).
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storefront.ops.slo_rules import slo_rules_yaml
from storefront.settings.environment import BASE_DIR
from toolkit.manifest import ownership_manifest

RULES_FILE = BASE_DIR / "docs" / "ops" / "prometheus-slo-rules.yml"


class Command(BaseCommand):
    help = "Write docs/ops/prometheus-slo-rules.yml from the ownership manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="only compare, write nothing")

    def handle(self, *args: object, check: bool, **_: object) -> None:
        text = slo_rules_yaml(ownership_manifest())
        if check:
            if not RULES_FILE.exists() or RULES_FILE.read_text() != text:
                raise CommandError(f"{RULES_FILE} is out of date: run manage.py slo_rules")
            return
        RULES_FILE.write_text(text)
        self.stdout.write(f"wrote {RULES_FILE}")
