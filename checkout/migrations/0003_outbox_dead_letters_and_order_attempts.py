"""Outbox dead letters; idempotency keys a retry may run again; one live order per key.

A failed order attempt (no money moved) no longer holds its Idempotency-Key, so a retry
can make a new one: the unique constraint on (cart_token, idempotency_key) becomes a
partial one that leaves `payment_failed` orders out. On PostgreSQL the new index is built
CONCURRENTLY (orders keep being written meanwhile; hence a non-atomic migration) before
the old constraint, a catalog change, is dropped.
"""

from django.db import migrations, models

LIVE = models.UniqueConstraint(
    fields=("cart_token", "idempotency_key"),
    condition=~models.Q(status="payment_failed"),
    name="order_idempotency_live_uniq",
)


def _live_index_create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS order_idempotency_live_uniq "
            "ON checkout_order (cart_token, idempotency_key) "
            "WHERE NOT (status = 'payment_failed')"
        )
    else:
        schema_editor.add_constraint(apps.get_model("checkout", "Order"), LIVE)


def _live_index_drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS order_idempotency_live_uniq")
    else:
        schema_editor.remove_constraint(apps.get_model("checkout", "Order"), LIVE)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("checkout", "0002_idempotency_and_outbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="dead_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="state",
            field=models.CharField(
                choices=[
                    ("in_flight", "In Flight"),
                    ("completed", "Completed"),
                    ("retryable", "Retryable"),
                ],
                default="in_flight",
                max_length=16,
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(_live_index_create, reverse_code=_live_index_drop),
            ],
            state_operations=[migrations.AddConstraint(model_name="order", constraint=LIVE)],
        ),
        migrations.RemoveConstraint(model_name="order", name="order_idempotency_uniq"),
    ]
