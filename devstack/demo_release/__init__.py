"""A release's migration for the deploy-during-spike scenario, and nothing else.

Installed only when `PEAKSTORE_DEMO_RELEASE=1` (the scenario's `manage.py deploy`), so
the store's own `migrate` never carries its throwaway column. Its one migration is what
an expand step of a real release looks like on the products table, the store's large
table: a nullable column (no rewrite, no default to fill in), then an index built
without blocking writes (`CREATE INDEX CONCURRENTLY` outside a transaction on
PostgreSQL; SQLite has no concurrent build, and locks the file briefly).
"""
