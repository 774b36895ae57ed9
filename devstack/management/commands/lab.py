"""The failure-mode lab: `python manage.py lab list | status | on MODE | off MODE | reset`,
and `lab run MODE` (`make lab MODE=...`).

The switches act on the stack this environment names (its database): every process of a
running stack follows them within a second, without a restart (`toolkit.lab`). They work
only when the lab is enabled (`PEAKSTORE_LAB=1`, as `make lab` and the workshop set),
never under production settings, which force it off whatever the environment says.

`lab run MODE` boots a stack with the lab enabled, runs the mode's short scenario with the
mode on, then the same scenario with the same seed with it off, and writes one comparison
report (`devstack/labrun.py`, `loadtests/lab.py`).
"""

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.labrun import LabRunError, lab_run
from storefront.settings.environment import BASE_DIR, ENV
from toolkit.lab import (
    MODES,
    LabDisabled,
    UnknownMode,
    active_modes_fresh,
    lab_changes,
    lab_enabled,
    reset,
    switch,
)

ACTIONS = ("list", "status", "on", "off", "reset", "run")


class Command(BaseCommand):
    help = "Failure-mode lab switches (list, status, on MODE, off MODE, reset) and `run MODE`."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("mode", nargs="?", help="a mode's name (`lab list` names them)")
        parser.add_argument("--port", type=int, default=ENV.port, help="run: default $PORT or 8000")
        parser.add_argument("--reports", type=Path, default=BASE_DIR / "reports" / "lab")
        parser.add_argument(
            "--duration", type=int, help="run: seconds per run (default: the mode's scenario)"
        )

    def handle(
        self,
        *args: object,
        action: str,
        mode: str | None,
        port: int,
        reports: Path,
        duration: int | None,
        **_: object,
    ) -> None:
        if action == "list":
            self._list()
            return
        if action in ("on", "off", "run") and not mode:
            raise CommandError(f"usage: lab {action} MODE (one of: {', '.join(MODES)})")
        if mode is not None and mode not in MODES:
            raise CommandError(f"no lab mode {mode!r}; known modes: {', '.join(MODES)}")
        if not lab_enabled():
            raise CommandError(
                "the lab is disabled: start the stack with PEAKSTORE_LAB=1 (`make lab` sets "
                "it); production settings never allow it"
            )
        actor = f"cli:{getpass.getuser()}"
        try:
            if action == "status":
                self._status()
            elif action == "reset":
                were_on = reset(actor=actor)
                self.stdout.write(f"switched off: {', '.join(were_on) or 'nothing was on'}")
            elif action == "run":
                assert mode is not None
                self._run(mode, port=port, reports=reports, duration=duration)
            else:
                assert mode is not None
                changed = switch(mode, on=action == "on", actor=actor)
                self.stdout.write(f"{mode} {action}" + ("" if changed else " (already)"))
        except (LabDisabled, UnknownMode) as error:
            raise CommandError(str(error)) from None

    def _list(self) -> None:
        width = max(len(name) for name in MODES)
        for mode in MODES.values():
            self.stdout.write(f"{mode.name:<{width}}  {mode.owner:<12}  {mode.naive}")
            self.stdout.write(f"{'':<{width}}  {'':<12}  caught by: {mode.signal}")

    def _status(self) -> None:
        on = active_modes_fresh()
        for name in MODES:
            self.stdout.write(f"{name:<22} {'ON' if name in on else 'off'}")
        changes = lab_changes(limit=10)
        if changes:
            self.stdout.write("\nLatest changes:")
        for change in changes:
            state = "on" if change.on else "off"
            self.stdout.write(f"  {change.at}  {change.mode} {state} by {change.actor}")

    def _run(self, mode: str, *, port: int, reports: Path, duration: int | None) -> None:
        try:
            outcome = lab_run(
                mode,
                port=port,
                reports=reports,
                duration_s=duration,
                stdout=self.stdout,
            )
        except KeyboardInterrupt:
            raise CommandError("interrupted; stopped every process") from None
        except LabRunError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Report: {outcome.html} (and {outcome.json.name})")
        if not outcome.demonstrated:
            raise CommandError(
                f"{mode}: the deciding gates did not fail with the mode on and pass with it "
                "off (see the report)"
            )
        self.stdout.write(
            self.style.SUCCESS(f"{mode}: deciding gates fail with the mode on, pass with it off")
        )
