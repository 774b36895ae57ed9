"""Moving the release models from the toolkit app to releases keeps rows and grants.

Each test migrates the database back to before the move (the models in `toolkit`),
writes what a running store had there (a flag, a decision, permissions granted to a
person and to a group), migrates forward, and asks the current models and the
permission backend.
"""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from releases.models import ReleaseDecision, ReleaseFlag

BEFORE_THE_MOVE = [("toolkit", "0001_initial"), ("releases", None)]

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(targets=None):
    """Migrate to `targets` (default: the latest), and return the models as they are then."""
    executor = MigrationExecutor(connection)
    state = executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()
    return state.apps


def _store_before_the_move(old):
    """Write a flag, its decision and the grants as the toolkit app held them."""
    content_type = old.get_model("contenttypes", "ContentType").objects.get(
        app_label="toolkit", model="releaseflag"
    )
    permission = old.get_model("auth", "Permission").objects.get
    stop = permission(content_type=content_type, codename="stop_releaseflag")
    advance = permission(content_type=content_type, codename="advance_releaseflag")
    on_call = old.get_model("auth", "User").objects.create(username="on-call", is_staff=True)
    on_call.user_permissions.add(stop)
    releasers = old.get_model("auth", "Group").objects.create(name="releasers")
    releasers.permissions.add(advance)
    member = old.get_model("auth", "User").objects.create(username="member", is_staff=True)
    member.groups.add(releasers)
    flag = old.get_model("toolkit", "ReleaseFlag").objects.create(
        name="recommendations-v2", status="running", exposure_bp=500, step_index=1
    )
    old.get_model("toolkit", "ReleaseDecision").objects.create(
        flag=flag,
        at=timezone.now(),
        action="advance",
        actor="on-call",
        status_before="running",
        status_after="running",
        step_index=1,
        exposure_before_bp=100,
        exposure_after_bp=500,
    )


def _assert_everything_survived():
    on_call, member = User.objects.get(username="on-call"), User.objects.get(username="member")
    assert on_call.has_perm("releases.stop_releaseflag")
    assert not on_call.has_perm("releases.advance_releaseflag")
    assert member.has_perm("releases.advance_releaseflag")
    assert not ContentType.objects.filter(app_label="toolkit", model__startswith="release")
    flag = ReleaseFlag.objects.get(name="recommendations-v2")
    assert (flag.status, flag.exposure_bp) == ("running", 500)
    assert ReleaseDecision.objects.get(flag=flag).exposure_after_bp == 500


def test_the_move_keeps_the_rows_and_every_granted_permission():
    # given the store as it was before the move, with a stop authority granted
    _store_before_the_move(_migrate(BEFORE_THE_MOVE))

    # when it migrates
    _migrate()

    # then the same people hold the same permissions, now under releases, and no row moved
    _assert_everything_survived()
    # four models (flags, decisions, windows, deploy steps), four permissions each, 5 custom
    assert Permission.objects.filter(content_type__app_label="releases").count() == 4 * 4 + 5


def test_the_move_merges_grants_into_permissions_a_request_created_before_it_ran():
    # given the store before the move, where post_migrate or a request already created
    # the releases content type and its stop permission (granted to nobody)
    old = _migrate(BEFORE_THE_MOVE)
    _store_before_the_move(old)
    early = old.get_model("contenttypes", "ContentType").objects.create(
        app_label="releases", model="releaseflag"
    )
    old.get_model("auth", "Permission").objects.create(
        content_type=early, codename="stop_releaseflag", name="Can stop a release"
    )

    # when it migrates
    _migrate()

    # then the grants landed on the permissions that are left, one of each
    _assert_everything_survived()
    assert Permission.objects.filter(codename="stop_releaseflag").count() == 1
    granted = Group.objects.get(name="releasers").permissions.get()
    assert granted.codename == "advance_releaseflag"
