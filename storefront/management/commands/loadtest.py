"""Load-test a stack it boots: `python manage.py loadtest --scenario smoke`.

The exit code is the verdict: non-zero when the error rate is over the scenario's budget.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storefront.settings.environment import BASE_DIR, ENV
from storefront.stack import Stack, StackConfig, StackError, sigterm_as_interrupt, store_prepare
from storefront.stack.audit import audits_run
from storefront.stack.loadrun import scenario_run, summary_table
from storefront.stack.scenarios import SCENARIOS, scenario_get


class Command(BaseCommand):
    help = "Boot the stack, run a Locust scenario headless, print and judge the results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scenario", default="smoke", choices=sorted(SCENARIOS))
        parser.add_argument("--port", type=int, default=ENV.port, help="default: $PORT or 8000")
        parser.add_argument("--products", type=int, help="seed size if empty (scenario's default)")
        parser.add_argument("--reports", type=Path, default=BASE_DIR / "reports")

    def handle(
        self,
        *args: object,
        scenario: str,
        port: int,
        products: int | None,
        reports: Path,
        **_: object,
    ) -> None:
        chosen = scenario_get(scenario)
        report_dir = reports / chosen.name
        store_prepare(products=products or chosen.seed_products, stdout=self.stdout)
        config = StackConfig(port=port, log_dir=ENV.var_dir / "log")
        self.stdout.write(f"Starting the stack at {config.base_url} (logs in {config.log_dir})")
        try:
            with sigterm_as_interrupt(), Stack(config):
                summary = scenario_run(
                    scenario=chosen,
                    host=config.base_url,
                    report_dir=report_dir,
                    write=self.stdout.write,
                )
                audits_clean = audits_run(config=config, write=self.stdout.write)
        except KeyboardInterrupt:
            raise CommandError("interrupted; stopped every process") from None
        except StackError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(summary_table(summary))
        self.stdout.write(f"Reports in {report_dir}/ (locust.html, locust_stats.csv, locust.json)")
        if not summary.passed(error_budget=chosen.error_budget):
            raise CommandError(
                f"{chosen.name}: error rate {summary.error_rate:.2%} is over the budget "
                f"of {chosen.error_budget:.0%}"
            )
        if not audits_clean:
            raise CommandError(f"{chosen.name}: the order audit found violations (see above)")
        self.stdout.write(self.style.SUCCESS(f"{chosen.name}: passed"))
