"""`python manage.py rollout status|start|advance|hold|stop|resume [<flag>] [--actor U]`.

Status prints every flag (or one) with its step, exposure, last interval and latest
decisions. The other actions are decisions: they run as `--actor` (default: the
`PEAKSTORE_RELEASE_ACTOR` setting) and are refused without that user's permission.
"""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from releases.selectors import release_decisions, releases_overview
from releases.services import HUMAN_ACTIONS, release_decide
from releases.spec import FLAGS
from toolkit.errors import DomainError


class Command(BaseCommand):
    help = "Show or drive release exposures (steps, gates, stops), with an audit record."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("status", *HUMAN_ACTIONS, "decisions"))
        parser.add_argument("flag", nargs="?", help="a declared flag (all for status)")
        parser.add_argument("--actor", help="username deciding (needs the permission)")
        parser.add_argument("--reason", default="", help="why, for the audit record")
        parser.add_argument("--json", action="store_true", help="status/decisions as JSON")

    def handle(self, *args, action: str, flag: str | None, **options) -> None:
        if flag is not None and flag not in FLAGS:
            raise CommandError(f"no release flag {flag!r}; declared: {', '.join(sorted(FLAGS))}")
        if action == "decisions":
            self.stdout.write(json.dumps(release_decisions(), indent=2))
            return
        if action == "status":
            self._status(flag, as_json=options["json"])
            return
        if flag is None:
            raise CommandError(f"{action} needs a flag")
        username = options["actor"] or settings.PEAKSTORE_RELEASE_ACTOR
        if not username:
            raise CommandError("say who decides: --actor USERNAME")
        try:
            actor = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {username!r}") from None
        try:
            decision = release_decide(
                name=flag, action=action, actor=actor, reason=options["reason"]
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"{flag}: {decision.action} by {decision.actor}: {decision.status_before} "
            f"{decision.exposure_before_bp / 100:g}% -> {decision.status_after} "
            f"{decision.exposure_after_bp / 100:g}%"
        )

    def _status(self, flag: str | None, *, as_json: bool) -> None:
        overview = releases_overview()
        if flag is not None:
            overview["flags"] = [row for row in overview["flags"] if row["name"] == flag]
            overview["decisions"] = [row for row in overview["decisions"] if row["flag"] == flag]
        if as_json:
            self.stdout.write(json.dumps(overview, indent=2))
            return
        for row in overview["flags"]:
            step = f" step {row['step']}" if row["step"] else ""
            self.stdout.write(
                f"{row['name']:<24} {row['kind']:<11} {row['status']:<9} "
                f"{row['exposure_percent']:>6g}%{step}  owner {row['owner']}"
            )
            if last := row["last_interval"]:
                self.stdout.write(
                    f"    last interval: {last['verdict']}, canary p95 "
                    f"{last['canary']['p95_ms']} ms vs control {last['control']['p95_ms']} ms "
                    f"({last['p95_ratio']}x) {'; '.join(last['reasons'])}"
                )
        for window in overview["windows"]:
            self.stdout.write(
                f"window: {window['kind']} {window['name']} until {window['ends_at']}"
            )
        for decision in overview["decisions"]:
            self.stdout.write(
                f"{decision['at']} {decision['flag']}: {decision['action']} by "
                f"{decision['actor']} -> {decision['exposure_percent'][1]:g}% {decision['reason']}"
            )
