"""Decisions by people and by the gate: permissions, audit records, the request path."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from releases.models import ReleaseDecision, ReleaseFlag, ReleaseWindow
from releases.services import (
    ReleasePermissionDenied,
    release_decide,
    releases_evaluate,
)
from releases.spec import flag_spec
from releases.state import GENERATION_KEY, STATE_KEY, snapshot_ensure, snapshot_get
from tests.releases.conftest import CohortStream

FLAG = "recommendations-v2"  # 20 samples close an interval; 3 failures stop
FIRST_STEP, SECOND_STEP = (step.basis_points for step in flag_spec(FLAG).steps[:2])


def person(username, *actions):
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=[f"{action}_releaseflag" for action in actions])
    )
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def releaser(db):
    return person("rel", "start", "advance", "hold", "stop", "resume")


class Stream:
    """Canary and control traffic for FLAG, fed to the gate once per interval."""

    def __init__(self):
        self.canary, self.control, self.now = CohortStream(), CohortStream(), timezone.now()

    def tick(self, *, canary_s, control_s=0.1, seconds=10):
        self.now += timedelta(seconds=seconds)
        self.canary.serve(30, seconds=canary_s)
        self.control.serve(300, seconds=control_s)
        totals = {(FLAG, "canary"): self.canary.totals(), (FLAG, "control"): self.control.totals()}
        return releases_evaluate(totals=totals, now=self.now)


def test_a_person_without_the_permission_is_refused(db):
    watcher = person("watcher", "hold")

    with pytest.raises(ReleasePermissionDenied):
        release_decide(name=FLAG, action="start", actor=watcher)

    assert not ReleaseDecision.objects.exists()


def test_a_slow_canary_is_stopped_by_the_gate_with_a_complete_audit_record(releaser):
    release_decide(name=FLAG, action="start", actor=releaser, reason="try it")
    stream = Stream()
    stream.tick(canary_s=0.1)  # opens the first interval

    decisions = [d for _ in range(3) for d in stream.tick(canary_s=0.5)]

    flag = ReleaseFlag.objects.get(name=FLAG)
    assert [d.action for d in decisions] == ["stop"]
    assert (flag.status, flag.exposure_bp, flag.failures) == ("stopped", 0, 3)
    stop = decisions[0]
    assert (stop.actor, stop.automatic) == ("gate", True)
    assert (stop.exposure_before_bp, stop.exposure_after_bp) == (FIRST_STEP, 0)
    assert stop.step_index == 0
    assert "3 failed intervals (limit 3)" in stop.reason
    assert stop.criteria["fail_p95_ratio"] == 1.5
    last = stop.metrics["recent_intervals"][-1]
    assert last["verdict"] == "fail"
    assert last["canary"]["p95_ms"] > 3 * last["control"]["p95_ms"]
    start = ReleaseDecision.objects.get(action="start")
    assert (start.actor, start.automatic, start.reason) == ("rel", False, "try it")
    assert start.metrics["failures"] == 0


def test_a_healthy_canary_advances_after_dwell_and_samples(releaser):
    release_decide(name=FLAG, action="start", actor=releaser)
    stream = Stream()
    stream.tick(canary_s=0.1)

    decisions = [d for _ in range(4) for d in stream.tick(canary_s=0.1)]

    assert [d.action for d in decisions] == ["advance"]
    assert ReleaseFlag.objects.get(name=FLAG).exposure_bp == SECOND_STEP
    assert decisions[0].metrics["exit_criteria"]["consecutive_passes"]["met"] is True


def test_a_freeze_window_keeps_a_passing_step_where_it_is(releaser):
    release_decide(name=FLAG, action="start", actor=releaser)
    ReleaseWindow.objects.create(
        name="year end",
        kind="freeze",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=1),
    )
    stream = Stream()
    stream.tick(canary_s=0.1)

    decisions = [d for _ in range(6) for d in stream.tick(canary_s=0.1)]

    assert [d.action for d in decisions] == ["frozen"]  # recorded once
    assert ReleaseFlag.objects.get(name=FLAG).exposure_bp == FIRST_STEP


def test_inconclusive_intervals_hold_the_step_and_a_person_resumes(releaser):
    release_decide(name=FLAG, action="start", actor=releaser)
    stream = Stream()
    stream.tick(canary_s=0.1)

    decisions = [d for _ in range(3) for d in stream.tick(canary_s=0.15)]

    assert [d.action for d in decisions] == ["hold"]
    assert ReleaseFlag.objects.get(name=FLAG).status == "held"
    release_decide(name=FLAG, action="resume", actor=releaser)
    assert ReleaseFlag.objects.get(name=FLAG).status == "running"


def test_the_request_path_reads_the_published_snapshot_without_a_query(
    releaser, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        release_decide(name=FLAG, action="start", actor=releaser)

    with django_assert_num_queries(0):
        snapshot = snapshot_get()

    assert snapshot[FLAG].exposure_bp == FIRST_STEP


def test_the_gate_republishes_a_snapshot_whose_states_the_cache_lost(
    releaser, django_capture_on_commit_callbacks
):
    # given a published snapshot whose states are gone (evicted, or written under the
    # key of before the move to the releases app) while its generation is still there
    with django_capture_on_commit_callbacks(execute=True):
        release_decide(name=FLAG, action="start", actor=releaser)
    cache.delete(STATE_KEY.format(cache.get(GENERATION_KEY)))
    assert FLAG not in snapshot_get()

    # when the evaluator ticks
    snapshot_ensure()

    # then the request path reads the flag's state again
    assert snapshot_get()[FLAG].exposure_bp == FIRST_STEP


def test_the_cli_refuses_an_actor_without_the_permission_and_records_one_with_it(releaser):
    person("viewer")

    with pytest.raises(CommandError, match="may not start"):
        call_command("rollout", "start", FLAG, "--actor", "viewer")
    call_command("rollout", "start", FLAG, "--actor", "rel")
    call_command("rollout", "stop", FLAG, "--actor", "rel", "--reason", "enough")

    assert list(ReleaseDecision.objects.values_list("action", "actor")) == [
        ("stop", "rel"),
        ("start", "rel"),
    ]


def test_the_admin_action_checks_the_same_permission(client, db):
    viewer = person("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_releaseflag"))
    release_decide(name=FLAG, action="start", actor=person("rel", "start"))
    client.force_login(viewer)

    client.post(
        "/admin/releases/releaseflag/",
        {"action": "release_stop", "_selected_action": [ReleaseFlag.objects.get(name=FLAG).pk]},
    )

    assert ReleaseFlag.objects.get(name=FLAG).status == "running"
    stopper = person("stopper", "stop")
    stopper.user_permissions.add(Permission.objects.get(codename="view_releaseflag"))
    client.force_login(stopper)
    client.post(
        "/admin/releases/releaseflag/",
        {"action": "release_stop", "_selected_action": [ReleaseFlag.objects.get(name=FLAG).pk]},
    )
    assert ReleaseFlag.objects.get(name=FLAG).status == "stopped"
    assert ReleaseDecision.objects.filter(action="stop", actor="stopper").exists()


def test_ops_decisions_need_the_permission_too(client, db):
    client.force_login(person("staffer"))

    response = client.post(f"/ops/releases/{FLAG}/start/", HTTP_ACCEPT="application/json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "release_permission_denied"


def test_an_ops_decision_goes_back_to_the_page_the_form_names(client, releaser):
    client.force_login(releaser)

    response = client.post(f"/ops/releases/{FLAG}/start/", {"reason": "go", "next": "/ops/"})

    assert response.status_code == 302
    assert response["Location"] == "/ops/"
    assert ReleaseFlag.objects.get(name=FLAG).status == "running"


def test_an_ops_decision_never_redirects_off_the_site(client, releaser):
    client.force_login(releaser)

    response = client.post(
        f"/ops/releases/{FLAG}/start/", {"reason": "go", "next": "https://elsewhere.example/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/ops/releases.json"
