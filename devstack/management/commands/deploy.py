"""Deploy the code in this checkout to the stack running on this var dir:
`python manage.py deploy` (`make deploy`). See devstack/deploy.py for the order."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.deploy import PROCESS_STEPS, DeployMarker, DeployRefused, deploy_run
from storefront.settings.environment import ENV

STEPS = ("expand", "caches", *PROCESS_STEPS)


class Command(BaseCommand):
    # At a campaign's peak the system checks would cost 0.6 s of CPU beside the shoppers;
    # `make lint` and CI run them on the code before it is deployed.
    requires_system_checks: list[str] = []
    help = (
        "Apply a release to the running stack without downtime: expand migrations, cache "
        "shapes, web workers replaced one by one, Celery worker replaced warm, beat restarted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--steps",
            default=",".join(STEPS),
            help=f"comma-separated, in this order whatever is given: {','.join(STEPS)}",
        )
        parser.add_argument("--timeout", type=float, default=300.0, help="for the reloads")
        parser.add_argument(
            "--retire",
            action="append",
            default=[],
            metavar="NAMESPACE",
            help="also retire a cache namespace's entries, as a changed cached type would "
            "(the deploy-during-spike scenario); repeatable",
        )

    def handle(
        self, *args: Any, steps: str, timeout: float, retire: list[str], **options: Any
    ) -> None:
        wanted = [step.strip() for step in steps.split(",") if step.strip()]
        if unknown := sorted(set(wanted) - set(STEPS)):
            raise CommandError(f"unknown steps: {', '.join(unknown)} (known: {', '.join(STEPS)})")
        self.stdout.write(f"Deploying to the stack on {ENV.var_dir}")
        try:
            deploy_run(
                var_dir=ENV.var_dir,
                steps=wanted,
                timeout=timeout,
                retire=retire,
                report=self._report,
            )
        except (DeployRefused, KeyError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS("Deployed."))

    def _report(self, marker: DeployMarker) -> None:
        style = self.style.SUCCESS if marker.ok else self.style.ERROR
        self.stdout.write(style(marker.line()))
