"""The failure-mode lab's switches: off and free unless enabled, shared through the
database, logged, and never on under production settings."""

import pytest

from toolkit import lab as the_lab
from toolkit.models import LabChange


@pytest.mark.django_db
def test_every_mode_is_off_and_costs_no_query_while_the_lab_is_disabled(
    settings, django_assert_num_queries
):
    settings.PEAKSTORE_LAB = False

    with django_assert_num_queries(0):
        assert not any(the_lab.mode_on(mode) for mode in the_lab.MODES)


@pytest.mark.django_db
def test_switching_needs_the_lab(settings):
    settings.PEAKSTORE_LAB = False

    with pytest.raises(the_lab.LabDisabled):
        the_lab.switch("n-plus-one", on=True, actor="test")


def test_a_switched_mode_is_on_and_logged_with_its_actor(lab):
    lab("oversell")

    assert the_lab.mode_on("oversell")
    assert not the_lab.mode_on("n-plus-one")
    assert the_lab.state_token() == "oversell"
    change = LabChange.objects.get()
    assert (change.mode, change.on, change.actor) == ("oversell", True, "test")


def test_switching_to_the_state_a_mode_has_logs_nothing(lab):
    lab("oversell")

    assert not the_lab.switch("oversell", on=True, actor="test")
    assert LabChange.objects.count() == 1


def test_another_process_sees_a_switch_once_its_memo_is_older_than_the_refresh(lab, monkeypatch):
    assert not the_lab.mode_on("cache-drift")  # memoised: nothing on
    from django.utils import timezone

    from toolkit.models import LabSwitch

    # Another process's write: the row changes, this process's memo does not.
    LabSwitch.objects.create(
        mode="cache-drift", on=True, changed_at=timezone.now(), changed_by="other"
    )
    assert not the_lab.mode_on("cache-drift")

    monkeypatch.setattr(the_lab, "REFRESH_SECONDS", 0.0)
    assert the_lab.mode_on("cache-drift")


def test_reset_turns_every_mode_off(lab):
    lab("oversell", "cache-drift")

    assert the_lab.reset(actor="test") == ["cache-drift", "oversell"]
    assert the_lab.active_modes_fresh() == frozenset()
    assert LabChange.objects.filter(on=False).count() == 2


def test_an_unknown_mode_is_refused(lab):
    with pytest.raises(the_lab.UnknownMode):
        the_lab.mode_on("slow-everything")
