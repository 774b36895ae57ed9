"""Expand: add `catalog_product.demo_badge` (nullable) and an index on it.

Raw SQL in this app's migration, not an AddField on catalog's model: the column belongs
to no model the store runs, so the old code and the new one both ignore it. Reversible.
"""

from typing import Any

from django.db import migrations

_COLUMN = "ALTER TABLE catalog_product ADD COLUMN IF NOT EXISTS demo_badge varchar(40) NULL"
_INDEX = "CREATE INDEX {how} IF NOT EXISTS catalog_product_demo_badge ON catalog_product (demo_badge)"


def _forwards(apps: Any, schema_editor: Any) -> None:
    postgresql = schema_editor.connection.vendor == "postgresql"
    column = _COLUMN if postgresql else _COLUMN.replace(" IF NOT EXISTS", "")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM catalog_product LIMIT 0")  # the table exists
        if postgresql or not _sqlite_has_column(cursor):
            cursor.execute(column)
        cursor.execute(_INDEX.format(how="CONCURRENTLY" if postgresql else ""))


def _backwards(apps: Any, schema_editor: Any) -> None:
    postgresql = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        how = "CONCURRENTLY " if postgresql else ""
        cursor.execute(f"DROP INDEX {how}IF EXISTS catalog_product_demo_badge")
        cursor.execute("ALTER TABLE catalog_product DROP COLUMN demo_badge")


def _sqlite_has_column(cursor: Any) -> bool:
    cursor.execute("SELECT name FROM pragma_table_info('catalog_product')")
    return any(row[0] == "demo_badge" for row in cursor.fetchall())


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(_forwards, _backwards)]
