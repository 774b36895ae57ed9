"""Full text beside the read model, per database vendor.

Both indexes are kept in step by triggers on `search_searchdocument`, so every write to
a document (insert, update, delete) updates its full-text entry in the same statement.
Note for later migrations: SQLite rebuilds a table to alter it, which drops its
triggers; a migration that alters `search_searchdocument` must run `SQLITE_FORWARD`'s
trigger statements again.
"""

from django.db import migrations

COLUMNS = "name, brand_name, category_names, description"
NEW = "new.name, new.brand_name, new.category_names, new.description"
OLD = "old.name, old.brand_name, old.category_names, old.description"

SQLITE_FORWARD = [
    # External content: the text is stored once, in the documents table.
    f"""CREATE VIRTUAL TABLE search_fts USING fts5(
        {COLUMNS},
        content='search_searchdocument', content_rowid='product_id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    )""",
    # Weights per column, as PostgreSQL's A/B/C/D: name, brand, category, description.
    "INSERT INTO search_fts(search_fts, rank) VALUES('rank', 'bm25(10.0, 5.0, 3.0, 1.0)')",
    f"""CREATE TRIGGER search_fts_insert AFTER INSERT ON search_searchdocument BEGIN
        INSERT INTO search_fts(rowid, {COLUMNS}) VALUES (new.product_id, {NEW});
    END""",
    f"""CREATE TRIGGER search_fts_delete AFTER DELETE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, {COLUMNS})
        VALUES ('delete', old.product_id, {OLD});
    END""",
    f"""CREATE TRIGGER search_fts_update AFTER UPDATE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, {COLUMNS})
        VALUES ('delete', old.product_id, {OLD});
        INSERT INTO search_fts(rowid, {COLUMNS}) VALUES (new.product_id, {NEW});
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS search_fts_update",
    "DROP TRIGGER IF EXISTS search_fts_delete",
    "DROP TRIGGER IF EXISTS search_fts_insert",
    "DROP TABLE IF EXISTS search_fts",
]

POSTGRESQL_FORWARD = [
    # 'simple': no stemming and no stop words, so results match SQLite's unicode61.
    """CREATE FUNCTION search_document_vector() RETURNS trigger AS $$
    BEGIN
        NEW.search_vector :=
            setweight(to_tsvector('simple', coalesce(NEW.name, '')), 'A') ||
            setweight(to_tsvector('simple', coalesce(NEW.brand_name, '')), 'B') ||
            setweight(to_tsvector('simple', coalesce(NEW.category_names, '')), 'C') ||
            setweight(to_tsvector('simple', coalesce(NEW.description, '')), 'D');
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER search_document_vector BEFORE INSERT OR UPDATE OF {COLUMNS}
        ON search_searchdocument FOR EACH ROW EXECUTE FUNCTION search_document_vector()""",
    "CREATE INDEX search_vector_gin ON search_searchdocument USING gin (search_vector)",
]
POSTGRESQL_BACKWARD = [
    "DROP INDEX IF EXISTS search_vector_gin",
    "DROP TRIGGER IF EXISTS search_document_vector ON search_searchdocument",
    "DROP FUNCTION IF EXISTS search_document_vector()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0001_search_documents")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRESQL_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRESQL_BACKWARD}),
        )
    ]
