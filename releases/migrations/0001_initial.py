"""Take over the release models from the toolkit app, keeping their tables and grants.

The models were created by `toolkit.0001_initial`. This migration creates them in the
releases app's state only (no table is created: `db_table` keeps the existing ones), and
moves their content types from `toolkit` to `releases`, so every permission, every grant
of it to a user or a group (the stop authority included) and every admin log entry stays
attached. `toolkit.0002` then drops them from the toolkit's state, again without SQL.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ("releaseflag", "releasedecision", "releasewindow")


def _permission_merge(apps, db, old, new):
    """Grant `new` to every user and group holding `old`, then delete `old`."""
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Group = apps.get_model("auth", "Group")
    for through, holder in (
        (User.user_permissions.through, "user_id"),
        (Group.permissions.through, "group_id"),
    ):
        holders = through.objects.using(db).filter(permission_id=old.pk)
        for holder_id in holders.values_list(holder, flat=True):
            through.objects.using(db).get_or_create(permission_id=new.pk, **{holder: holder_id})
    old.delete()


def _content_types_move(apps, schema_editor, *, source, target):
    """Relabel the models' content types from `source` to `target`, grants and all.

    If `target` already has a content type for a model (a request created it before the
    migration ran), its permissions absorb the source's grants and the source's go.
    """
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    for model in MODELS:
        old = ContentType.objects.using(db).filter(app_label=source, model=model).first()
        if old is None:
            continue  # a fresh database: post_migrate creates them for `target`
        new = ContentType.objects.using(db).filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        for permission in Permission.objects.using(db).filter(content_type=old):
            twin = Permission.objects.using(db).filter(
                content_type=new, codename=permission.codename
            ).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
            else:
                _permission_merge(apps, db, permission, twin)
        try:
            LogEntry = apps.get_model("admin", "LogEntry")
        except LookupError:
            pass
        else:
            LogEntry.objects.using(db).filter(content_type=old).update(content_type=new)
        old.delete()


def forwards(apps, schema_editor):
    _content_types_move(apps, schema_editor, source="toolkit", target="releases")


def backwards(apps, schema_editor):
    _content_types_move(apps, schema_editor, source="releases", target="toolkit")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("toolkit", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ReleaseFlag',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.SlugField(max_length=80, unique=True)),
                        ('status', models.CharField(choices=[('draft', 'draft (never started)'), ('running', 'running (the gate may advance or stop it)'), ('held', 'held for a person (the gate may still stop it)'), ('stopped', 'stopped (0%)'), ('complete', 'complete (100%)')], default='draft', max_length=10)),
                        ('step_index', models.IntegerField(default=-1)),
                        ('exposure_bp', models.PositiveIntegerField(default=0)),
                        ('step_started_at', models.DateTimeField(blank=True, null=True)),
                        ('step_samples', models.PositiveIntegerField(default=0)),
                        ('consecutive_passes', models.PositiveIntegerField(default=0)),
                        ('consecutive_inconclusive', models.PositiveIntegerField(default=0)),
                        ('failures', models.PositiveIntegerField(default=0)),
                        ('interval_started_at', models.DateTimeField(blank=True, null=True)),
                        ('interval_baseline', models.JSONField(blank=True, default=dict)),
                        ('recent_intervals', models.JSONField(blank=True, default=list)),
                        ('frozen_noted', models.BooleanField(default=False)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'toolkit_releaseflag',
                        'ordering': ['name'],
                        'permissions': [('start_releaseflag', 'Can start a release exposure'), ('advance_releaseflag', 'Can advance a release to its next step'), ('hold_releaseflag', 'Can hold a release at its step'), ('stop_releaseflag', 'Can stop a release (exposure back to 0%)'), ('resume_releaseflag', 'Can resume a held or stopped release')],
                    },
                ),
                migrations.CreateModel(
                    name='ReleaseDecision',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(db_index=True)),
                        ('action', models.CharField(max_length=10)),
                        ('actor', models.CharField(max_length=150)),
                        ('automatic', models.BooleanField(default=False)),
                        ('status_before', models.CharField(max_length=10)),
                        ('status_after', models.CharField(max_length=10)),
                        ('step_index', models.IntegerField()),
                        ('exposure_before_bp', models.PositiveIntegerField()),
                        ('exposure_after_bp', models.PositiveIntegerField()),
                        ('reason', models.TextField(blank=True)),
                        ('criteria', models.JSONField(default=dict)),
                        ('metrics', models.JSONField(default=dict)),
                        ('flag', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='decisions', to='releases.releaseflag')),
                    ],
                    options={
                        'db_table': 'toolkit_releasedecision',
                        'ordering': ['-at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ReleaseWindow',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120)),
                        ('kind', models.CharField(choices=[('campaign', 'campaign (stricter gate criteria)'), ('freeze', 'freeze (no automatic advance)')], max_length=10)),
                        ('starts_at', models.DateTimeField()),
                        ('ends_at', models.DateTimeField()),
                    ],
                    options={
                        'db_table': 'toolkit_releasewindow',
                        'ordering': ['starts_at'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('ends_at__gt', models.F('starts_at'))), name='release_window_ends_after_it_starts')],
                    },
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
