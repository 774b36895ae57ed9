"""The committed OpenAPI schema against the code: `python manage.py api_schema [--write]`.

`storefront/api/openapi.yaml` is the API's published contract. Without options the
command generates the schema from the code and exits non-zero when it differs from the
committed file, listing every breaking change (`devstack/openapi_diff.py`). `--write`
regenerates the file, and refuses a breaking change unless `info.version`'s major
version changed with it.
"""

import tempfile
from pathlib import Path
from typing import Any

import yaml
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.openapi_diff import breaking_changes, major_version
from storefront.settings.environment import BASE_DIR

COMMITTED = BASE_DIR / "storefront" / "api" / "openapi.yaml"
REGENERATE = "python manage.py api_schema --write"


def generated_schema_text() -> str:
    """The schema as /api/schema/ serves it, validated, in YAML."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "openapi.yaml"
        call_command(
            "spectacular",
            "--custom-settings",
            "storefront.api.schema.SCHEMA_SETTINGS",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(target),
        )
        return target.read_text()


class Command(BaseCommand):
    help = "Check the committed OpenAPI schema against the code, or regenerate it (--write)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--write",
            action="store_true",
            help="Rewrite storefront/api/openapi.yaml (refused on a breaking change "
            "unless info.version's major version changed).",
        )

    def handle(self, *args: Any, write: bool, **options: Any) -> None:
        generated = generated_schema_text()
        committed = COMMITTED.read_text() if COMMITTED.exists() else None
        if committed == generated:
            self.stdout.write(f"{COMMITTED.relative_to(BASE_DIR)} matches the code.")
            return
        old, new = yaml.safe_load(committed or "{}"), yaml.safe_load(generated)
        breaks = breaking_changes(old, new) if committed else []
        same_major = major_version(old) == major_version(new)
        for line in breaks:
            self.stdout.write(f"BREAKING {line}")
        if write and not (breaks and same_major):
            COMMITTED.write_text(generated)
            self.stdout.write(f"Wrote {COMMITTED.relative_to(BASE_DIR)}.")
            return
        if breaks and same_major:
            raise CommandError(
                f"{len(breaks)} breaking change(s) against the committed schema with "
                f"info.version still {new['info']['version']}: keep the API compatible, or "
                "raise the major version (SPECTACULAR_SETTINGS['VERSION']) and run "
                f"`{REGENERATE}`."
            )
        raise CommandError(
            f"{COMMITTED.relative_to(BASE_DIR)} differs from the schema the code generates "
            f"(a compatible change{' with a new major version' if breaks else ''}): "
            f"run `{REGENERATE}` and commit the file."
        )
