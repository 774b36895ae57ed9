"""`lint_migrations`: django-migration-linter over every migration not explicitly accepted."""

from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

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
