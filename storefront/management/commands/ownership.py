"""Print the ownership manifest: routes with their SLO, caches, dependencies, signals."""

from django.core.management.base import BaseCommand

from toolkit.manifest import ownership_manifest


class Command(BaseCommand):
    help = "Print who owns every route (with its p95 SLO), cache, dependency and signal."

    def handle(self, *args: object, **options: object) -> None:
        manifest = ownership_manifest()
        self._table(
            "Routes",
            ("route", "owner", "p95 SLO", "criticality", "what"),
            [
                (r.view_name, r.owner, f"{r.slo_p95_ms} ms", str(r.criticality), r.description)
                for r in manifest.routes
            ],
        )
        self._table(
            "Cache namespaces",
            ("namespace", "owner", "what"),
            [(c.namespace, c.owner, c.description) for c in manifest.cache_namespaces],
        )
        self._table(
            "Dependencies",
            ("dependency", "owner", "criticality", "what"),
            [
                (d.dependency, d.owner, str(d.criticality), d.description)
                for d in manifest.dependencies
            ],
        )
        self._table(
            "Signals (metric families)",
            ("metric", "owner", "what"),
            [(s.metric, s.owner, s.description) for s in manifest.signals],
        )

    def _table(self, title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        widths = [
            max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)
        ]
        self.stdout.write(self.style.MIGRATE_HEADING(title))
        for row in (header, *rows):
            line = "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            )
            self.stdout.write(f"  {line.rstrip()}")
        self.stdout.write("")
