"""The demo: `python manage.py demo` (`make demo`).

Seeds an empty store, creates a local staff user (a fresh password each time, printed
with how to log in, so /ops/ works out of the box), boots the stack, runs a minute of
mixed Locust traffic, prints the figures and writes the reports, then keeps serving until
Ctrl-C. With DEMO_SERVE=0 it
exits after the report instead, non-zero when the error rate is over 1%.
"""

import secrets
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.audit import audits_clean, audits_run
from devstack.loadrun import scenario_run, summary_table
from devstack.management.commands.run_stack import stack_banner
from devstack.prepare import demo_staff_user, store_prepare
from devstack.processes import (
    Stack,
    StackConfig,
    StackError,
    for_a_person,
    sigterm_as_interrupt,
)
from loadtests.scenarios import scenario_get
from storefront.settings.environment import BASE_DIR, ENV


class Command(BaseCommand):
    help = "Seed, serve, load-test for a minute, then keep serving (DEMO_SERVE=0 to exit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=ENV.port, help="default: $PORT or 8000")
        parser.add_argument("--products", type=int, default=10_000, help="seed size if empty")
        parser.add_argument("--reports", type=Path, default=BASE_DIR / "reports")

    def handle(self, *args: object, port: int, products: int, reports: Path, **_: object) -> None:
        scenario = scenario_get("demo")
        report_dir = reports / scenario.name
        store_prepare(products=products, stdout=self.stdout)
        staff = demo_staff_user()
        token = secrets.token_urlsafe(24)  # the back-office writers' token, for this run
        # Its load generator's key: each simulated visit is a client of its own to the
        # store's throttles and holds (loadtests/users.py, toolkit/clients.py).
        loadgen_key = secrets.token_urlsafe(24)
        # The load run's requests go to the log files; the console format keeps them
        # readable there (`tail -f var/log/web.log`).
        config = for_a_person(
            StackConfig(
                port=port,
                log_dir=ENV.var_dir / "log",
                env={"PEAKSTORE_BACKOFFICE_TOKEN": token, "PEAKSTORE_LOADGEN_KEY": loadgen_key},
            )
        )
        self.stdout.write(f"Starting the stack at {config.base_url} (logs in {config.log_dir})")
        try:
            with sigterm_as_interrupt(), Stack(config) as stack:
                summary = scenario_run(
                    scenario=scenario,
                    stack=config,
                    report_dir=report_dir,
                    backoffice_token=token,
                    loadgen_key=loadgen_key,
                    write=self.stdout.write,
                )
                self.stdout.write(summary_table(summary))
                clean = audits_clean(
                    audits_run(config=config, write=self.stdout.write, keep_in=report_dir)
                )
                self.stdout.write(f"Reports in {report_dir}/ (locust.html, CSV and JSON stats)")
                # Served or not: after DEMO_SERVE=0, `make run` serves the same store, and
                # this is the only place the password is ever shown.
                self.stdout.write(self.style.SUCCESS(staff_login(config, *staff)))
                if ENV.demo_serve:
                    self.stdout.write(self.style.SUCCESS(stack_banner(config)))
                    # From here on the terminal is the person's: one line per request.
                    stack.wait(follow=self.stdout.write)
        except KeyboardInterrupt:
            self.stdout.write("Stopped every process.")
            return
        except StackError as error:
            raise CommandError(str(error)) from None
        if not summary.passed(error_budget=scenario.error_budget):
            raise CommandError(
                f"error rate {summary.error_rate:.2%} is over {scenario.error_budget:.0%}"
            )
        if not clean:
            raise CommandError("the order audit found violations (see above)")


def staff_login(config: StackConfig, username: str, password: str) -> str:
    return (
        f"Staff login for the ops dashboard: {config.base_url}/admin/login/?next=/ops/\n"
        f"  username {username}  password {password}  (a new password every `make demo`)"
    )
