"""`manage.py lab_check`: each check a line; a failed one says what to do and fails the
command. The speed check's gunicorn run is replaced by a figure here (it is measured by
`make lab-check` itself)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devstack.management.commands import lab_check


def run_check() -> str:
    out = StringIO()
    call_command("lab_check", stdout=out)
    return out.getvalue()


def test_a_capable_machine_is_ready_for_the_lab(db, monkeypatch):
    monkeypatch.setattr(lab_check, "calibration_measure", lambda **_: 2500.0)

    out = run_check()

    for name in ("python", "cores", "memory", "disk", "database", "tools", "speed"):
        assert name in out
    assert "bare Django 2500 req/s" in out
    assert "Ready for the lab" in out


def test_a_slow_machine_fails_the_check_and_is_told_why(db, monkeypatch):
    monkeypatch.setattr(lab_check, "calibration_measure", lambda **_: 120.0)
    out = StringIO()

    with pytest.raises(CommandError, match="1 check\\(s\\) failed: speed"):
        call_command("lab_check", stdout=out)
    assert "close other programs" in out.getvalue()


def test_production_settings_are_refused(db, monkeypatch):
    monkeypatch.setattr(lab_check, "calibration_measure", lambda **_: 2500.0)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "storefront.settings.production")

    with pytest.raises(CommandError, match="lab allowed"):
        run_check()
