"""Lint migrations for deploys with old code still running: `python manage.py lint_migrations`.

django-migration-linter reads each migration's SQL as PostgreSQL, the production
database, runs it (`sqlmigrate` on the services profile) and flags what breaks the code
still serving during a rolling deploy (a column dropped or renamed, NOT NULL without a
database default, a table renamed) and what locks a table while it runs (CREATE INDEX
without CONCURRENTLY, DROP INDEX): every warning counts as an error. `make lint` runs it;
CI runs `make lint` on PostgreSQL. On SQLite (the embedded profile) it says so and
passes: SQLite rebuilds a table for most changes, which the linter would flag in every
migration, and no rolling deploy runs on it.

What the linter refuses (django-migration-linter 6, PostgreSQL): renaming or dropping a
table or a column, a column altered to another type, NOT NULL without a database default,
a unique constraint added, CREATE INDEX without CONCURRENTLY on an existing table (and any
index built in a transaction that altered a table), DROP INDEX without CONCURRENTLY,
REINDEX, RunPython without a reverse. And one check of ours it lacks, `VALIDATED_CONSTRAINT`:
a CHECK or FOREIGN KEY constraint added to an existing table without NOT VALID, which
scans every row while it holds a lock that stops writes.

A migration listed in ACCEPTED is not linted: those written before the linter
(grandfathered), and any later one a reviewer accepted, with the reason beside it. A
migration marked as the contract step of an expand/contract change,
`contract_after = ("<app>", "<expand migration>")` on its class, is not linted either:
the mark says the old code no longer reads what it removes, and `manage.py deploy`
refuses to apply it in the same release as its expand migration (devstack/deploy.py).
"""

import logging
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations import Migration
from django_migration_linter import MigrationLinter
from django_migration_linter.migration_linter import MessageType
from django_migration_linter.sql_analyser.base import Check, CheckMode, CheckType
from django_migration_linter.sql_analyser.postgresql import PostgresqlAnalyser

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


def has_validated_constraint(sql_statements: list[str], **kwargs: Any) -> bool:
    """A CHECK or FOREIGN KEY added to a table this migration did not create, validated now."""
    created = set()
    for sql in sql_statements:
        if table := re.match(r'CREATE TABLE "?([\w.]+)"?', sql):
            created.add(table.group(1))
        added = re.match(r'ALTER TABLE "?([\w.]+)"? ADD CONSTRAINT .*(CHECK|FOREIGN KEY)', sql)
        if added and added.group(1) not in created and "NOT VALID" not in sql:
            return True
    return False


class StoreAnalyser(PostgresqlAnalyser):
    """PostgreSQL's checks, plus a constraint validated under a lock."""

    migration_checks = [
        *PostgresqlAnalyser.migration_checks,
        Check(
            code="VALIDATED_CONSTRAINT",
            fn=has_validated_constraint,
            message="ADD CONSTRAINT scans the table under a write lock (add it NOT VALID, "
            "then VALIDATE CONSTRAINT in a later migration)",
            mode=CheckMode.TRANSACTION,
            type=CheckType.WARNING,
        ),
    ]


class _Linter(MigrationLinter):
    """The linter, skipping the accepted migrations by app and name (its own ignore list
    matches names alone, and every app has a `0001_initial`) and the marked contract
    steps, with the store's analyser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_analyser_class = StoreAnalyser

    def lint_migration(self, migration: Migration) -> None:
        after = getattr(migration, "contract_after", None)
        if after is None:
            super().lint_migration(migration)
            return
        self.nb_total += 1
        self.nb_ignored += 1
        self.print_linting_msg(
            migration.app_label,
            migration.name,
            f"IGNORE (the contract step after {after[0]}.{after[1]})",
            MessageType.IGNORE,
        )

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
