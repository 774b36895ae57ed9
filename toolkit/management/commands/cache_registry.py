"""Print the cache ownership registry: `python manage.py cache_registry [--markdown PATH]`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from toolkit.cache import registry
from toolkit.cache.docs import registry_markdown, registry_text


class Command(BaseCommand):
    help = "Print every declared cache namespace; --markdown writes the docs table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--markdown", type=Path, help="write the table there (docs/caches.md)")

    def handle(self, *args: object, markdown: Path | None, **_: object) -> None:
        if markdown is None:
            self.stdout.write(registry_text(registry), ending="")
            return
        markdown.write_text(registry_markdown(registry))
        self.stdout.write(f"Wrote {markdown}")
