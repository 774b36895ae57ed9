"""Lint migrations for deploys with old code still running: `python manage.py lint_migrations`.

django-migration-linter reads each migration's SQL as PostgreSQL, the production
database, runs it (`sqlmigrate` on the services profile) and flags what breaks the code
still serving during a rolling deploy (a column dropped or renamed, NOT NULL without a
database default, a table renamed) and what locks a table while it runs (CREATE INDEX
without CONCURRENTLY, DROP INDEX): every warning counts as an error. `make lint` runs it;
CI runs `make lint` on PostgreSQL. On SQLite (the embedded profile) it says so and
passes: SQLite rebuilds a table for most changes, which the linter would flag in every
migration, and no rolling deploy runs on it.

A migration listed in ACCEPTED is not linted: those written before the linter
(grandfathered), and any later one a reviewer accepted, with the reason beside it.
"""

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_migration_linter import MigrationLinter

GRANDFATHERED = "written before the linter; applied everywhere"
ACCEPTED: dict[tuple[str, str], str] = {
    ("catalog", "0001_initial"): GRANDFATHERED,
    ("checkout", "0001_initial"): GRANDFATHERED,
    ("checkout", "0002_idempotency_and_outbox"): GRANDFATHERED,
    ("inventory", "0001_initial"): GRANDFATHERED,
    ("inventory", "0002_reservations"): GRANDFATHERED,
    ("pricing", "0001_initial"): GRANDFATHERED,
    ("pricing", "0002_promotion_mechanics"): GRANDFATHERED,
    ("releases", "0001_initial"): GRANDFATHERED,
    ("search", "0001_search_documents"): GRANDFATHERED,
    ("search", "0002_full_text"): GRANDFATHERED,
    ("toolkit", "0001_initial"): GRANDFATHERED,
    ("toolkit", "0002_release_models_moved"): GRANDFATHERED,
}


class _Linter(MigrationLinter):
    """The linter, skipping the accepted migrations by app and name (its own ignore list
    matches names alone, and every app has a `0001_initial`)."""

    def should_ignore_migration(
        self, app_label: str, migration_name: str, *args: Any, **kwargs: Any
    ) -> bool:
        return (app_label, migration_name) in ACCEPTED or super().should_ignore_migration(
            app_label, migration_name, *args, **kwargs
        )


class Command(BaseCommand):
    help = "Lint migrations for backward-incompatible and table-locking operations."

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write(
                f"Migrations not linted: the linter reads PostgreSQL's SQL, and this profile "
                f"runs {connection.vendor} (the services profile, as in CI, lints them)."
            )
            return
        # One INFO line per `sqlmigrate` call says nothing the summary does not.
        logging.getLogger("django_migration_linter").setLevel(logging.WARNING)
        linter = _Linter(all_warnings_as_errors=True, no_cache=True)
        linter.lint_all_migrations()
        linter.print_summary()
        if linter.has_errors:
            raise CommandError(
                "A migration would break the running code or lock a table: make it "
                "compatible (add nullable, backfill, then constrain; "
                "AddIndexConcurrently in a non-atomic migration), or accept it in "
                "devstack/management/commands/lint_migrations.py with the reason."
            )
