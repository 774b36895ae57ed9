"""`lint_migrations`: django-migration-linter over every migration not explicitly accepted."""

from types import SimpleNamespace

import pytest
from django.contrib.postgres.operations import AddIndexConcurrently
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.db.migrations import AddConstraint, AddField, AddIndex, Migration, RemoveField
from django.db.migrations.loader import MigrationLoader

from devstack.management.commands import lint_migrations

# Grandfathered, and flagged by the linter: its promotion fields are added NOT NULL.
FLAGGED = ("pricing", "0002_promotion_mechanics")


def _linter():
    return lint_migrations._Linter(all_warnings_as_errors=True, no_cache=True, no_output=True)


def test_accepted_migrations_are_skipped_by_app_and_name(db):
    linter = _linter()

    assert linter.should_ignore_migration(*FLAGGED)
    # The same name in another app is linted: the linter's own list matches names alone.
    assert not linter.should_ignore_migration("catalog", "0002_promotion_mechanics")
    assert not linter.should_ignore_migration("pricing", "0099_added_later")


def test_a_flagged_migration_fails_the_lint_unless_accepted(db, monkeypatch, capsys):
    if connection.vendor != "postgresql":
        pytest.skip("the migration lint reads PostgreSQL's SQL (services profile); CI runs it")
    accepted = {key: why for key, why in lint_migrations.ACCEPTED.items() if key != FLAGGED}
    monkeypatch.setattr(lint_migrations, "ACCEPTED", accepted)

    with pytest.raises(CommandError, match="accept it in devstack"):
        call_command("lint_migrations")

    assert "(pricing, 0002_promotion_mechanics)... ERR" in capsys.readouterr().out


def test_on_sqlite_the_lint_says_it_did_not_run(db, monkeypatch, capsys):
    monkeypatch.setattr(lint_migrations, "connection", SimpleNamespace(vendor="sqlite"))

    call_command("lint_migrations")

    assert "not linted" in capsys.readouterr().out


# New migrations on the catalog's largest table, linted as the command lints a migration
# file: their SQL as `sqlmigrate` prints it for PostgreSQL, through the command's linter.


class _InMemoryLinter(lint_migrations._Linter):
    """The command's linter, reading a migration's SQL from the schema editor."""

    def __init__(self) -> None:
        super().__init__(all_warnings_as_errors=True, no_cache=True, no_output=True)

    def get_migration_hash(self, app_label: str, migration_name: str) -> str:
        return migration_name  # no file to hash: the cache is off anyway

    def get_sql(self, app_label: str, migration_name: str) -> list[str]:
        migration = self._linting
        state = MigrationLoader(connection).project_state()
        with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
            migration.apply(state, editor, collect_sql=True)
        wrapped = ["BEGIN;", *editor.collected_sql, "COMMIT;"] if migration.atomic else []
        return "\n".join(wrapped or editor.collected_sql).splitlines()

    def refuses(self, migration: Migration) -> bool:
        self._linting = migration
        self.lint_migration(migration)
        return self.has_errors


def _migration(*operations, atomic: bool = True, contract_after=None) -> Migration:
    migration = Migration("0099_deploy_change", "catalog")
    migration.dependencies = [("catalog", "0001_initial")]
    migration.operations = list(operations)
    migration.atomic = atomic
    if contract_after is not None:
        migration.contract_after = contract_after
    return migration


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the migration lint reads PostgreSQL's SQL (services profile); CI runs it")


@pytest.mark.parametrize(
    "operation",
    [
        # builds the index under a lock that stops every write to the table
        AddIndex("product", models.Index(fields=["popularity"], name="product_pop_deploy_idx")),
        # the old code inserts rows without the column: NOT NULL without a database default
        AddField("product", "badge", models.CharField(max_length=20, default="")),
        # scans every row under a write lock (our check: the linter has none)
        AddConstraint(
            "product",
            models.CheckConstraint(
                condition=models.Q(popularity__lte=10**9), name="product_pop_bounded"
            ),
        ),
        # the old code still reads the column
        RemoveField("product", "image_url"),
    ],
    ids=["index-locks-table", "not-null-no-default", "constraint-validated", "column-dropped"],
)
def test_a_migration_that_locks_a_large_table_or_breaks_the_old_code_is_refused(db, operation):
    _postgresql_only()

    assert _InMemoryLinter().refuses(_migration(operation))


def test_the_safe_way_to_add_a_column_and_an_index_passes(transactional_db):
    _postgresql_only()
    added = _migration(AddField("product", "badge", models.CharField(max_length=20, null=True)))
    indexed = _migration(
        AddIndexConcurrently(
            "product", models.Index(fields=["popularity"], name="product_pop_deploy_idx")
        ),
        atomic=False,
    )
    not_null_with_default = _migration(
        AddField("product", "badge", models.CharField(max_length=20, db_default="none"))
    )

    assert not _InMemoryLinter().refuses(added)
    assert not _InMemoryLinter().refuses(indexed)
    assert not _InMemoryLinter().refuses(not_null_with_default)


def test_a_contract_step_marked_as_such_is_not_refused(db):
    _postgresql_only()
    dropped = _migration(
        RemoveField("product", "image_url"),
        contract_after=("catalog", "0098_image_read_from_media"),
    )

    assert not _InMemoryLinter().refuses(dropped)
