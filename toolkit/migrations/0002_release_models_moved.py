"""The release models moved to the releases app (`releases.0001_initial`).

State only: their tables, rows, content types and permissions now belong to releases.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("toolkit", "0001_initial"),
        ("releases", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="ReleaseDecision"),
                migrations.DeleteModel(name="ReleaseFlag"),
                migrations.DeleteModel(name="ReleaseWindow"),
            ],
        ),
    ]
