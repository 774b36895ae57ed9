"""`lint_migrations`: django-migration-linter over every migration not explicitly accepted."""

import pytest
from django.core.management import CommandError, call_command

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


# sqlmigrate on SQLite cannot run inside the test transaction: transactional_db.
def test_a_flagged_migration_fails_the_lint_unless_accepted(transactional_db, monkeypatch, capsys):
    accepted = {key: why for key, why in lint_migrations.ACCEPTED.items() if key != FLAGGED}
    monkeypatch.setattr(lint_migrations, "ACCEPTED", accepted)

    with pytest.raises(CommandError, match="accept it in devstack"):
        call_command("lint_migrations")

    assert "(pricing, 0002_promotion_mechanics)... ERR" in capsys.readouterr().out
