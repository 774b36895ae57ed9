"""`manage.py lab`: list, status, on, off and reset act on the shared switches, log each
change, and refuse while the lab is disabled."""

from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devstack import labrun
from toolkit import lab as the_lab
from toolkit.models import LabChange


def lab_command(*args: str) -> str:
    out = StringIO()
    call_command("lab", *args, stdout=out)
    return out.getvalue()


def test_list_names_every_mode_with_its_owner_and_signal(db):
    listed = lab_command("list")

    for mode in the_lab.MODES.values():
        assert mode.name in listed
        assert mode.signal in listed


def test_on_status_off_and_reset(lab):
    lab_command("on", "n-plus-one")
    lab_command("on", "click-id-busting")
    status = lab_command("status")

    assert "n-plus-one             ON" in status
    assert "cold-release           off" in status
    assert the_lab.active_modes_fresh() == {"n-plus-one", "click-id-busting"}

    lab_command("off", "n-plus-one")
    assert "switched off: click-id-busting" in lab_command("reset")
    assert the_lab.active_modes_fresh() == frozenset()
    # on, on, off, and reset's off: each logged with who did it
    assert LabChange.objects.count() == 4
    assert all(change.actor.startswith("cli:") for change in LabChange.objects.all())


def test_an_unknown_mode_is_refused_with_the_known_ones(lab):
    with pytest.raises(CommandError, match="known modes: n-plus-one"):
        lab_command("on", "n-plus-two")


@pytest.mark.parametrize("args", [("status",), ("on", "n-plus-one"), ("reset",)])
def test_the_switches_are_refused_while_the_lab_is_disabled(db, settings, args):
    settings.PEAKSTORE_LAB = False

    with pytest.raises(CommandError, match="the lab is disabled"):
        lab_command(*args)
    assert not LabChange.objects.exists()


def test_a_mode_that_cannot_do_its_damage_on_this_profile_is_refused_before_it_runs(
    lab, monkeypatch, tmp_path
):
    # SQLite serialises checkouts, so `oversell` could only show two clean runs there.
    monkeypatch.setattr(labrun, "ENV", replace(labrun.ENV, database_url=""))

    with pytest.raises(CommandError, match="oversell cannot do its damage on the embedded"):
        lab_command("run", "oversell", "--reports", str(tmp_path))
    assert not any(tmp_path.iterdir())
