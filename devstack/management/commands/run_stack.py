"""Run the store: `python manage.py run_stack` (`make run`). Ctrl-C or SIGTERM stops it."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.prepare import store_prepare
from devstack.processes import (
    Stack,
    StackConfig,
    StackError,
    for_a_person,
    sigterm_as_interrupt,
    web_process,
    web_stack_config,
)
from storefront.settings.environment import ENV


class Command(BaseCommand):
    help = "Migrate, seed an empty store, then run web, worker, beat and simulator until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=ENV.port, help="default: $PORT or 8000")
        parser.add_argument(
            "--simulator-port", type=int, help="upstream simulator's port (default: port + 101)"
        )
        parser.add_argument("--products", type=int, default=10_000, help="seed size if empty")
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--worker-concurrency", type=int, default=2)
        parser.add_argument(
            "--web-only",
            action="store_true",
            help="another web stack (gunicorn on --port) on the same database, cache and "
            "broker as the stack already running on this PEAKSTORE_VAR_DIR",
        )

    def handle(
        self,
        *args: object,
        port: int,
        simulator_port: int | None,
        products: int,
        web_workers: int,
        worker_concurrency: int,
        web_only: bool,
        **_: object,
    ) -> None:
        config = for_a_person(
            StackConfig(
                port=port,
                simulator_port=simulator_port,
                web_workers=web_workers,
                worker_concurrency=worker_concurrency,
            )
        )
        processes = None
        if web_only:
            # The first stack migrated and seeded the store, and runs the simulator.
            config = web_stack_config(config, upstream_url=ENV.upstream_url)
            processes = [web_process(config)]
        else:
            store_prepare(products=products, stdout=self.stdout)
        with sigterm_as_interrupt():
            try:
                with Stack(config, processes=processes) as stack:
                    self.stdout.write(self.style.SUCCESS(stack_banner(config)))
                    stack.wait()
            except KeyboardInterrupt:
                self.stdout.write("Stopped every process.")
            except StackError as error:
                raise CommandError(str(error)) from None


def stack_banner(config: StackConfig) -> str:
    url = config.base_url
    return (
        f"Peakstore ({ENV.profile} profile, data in {ENV.var_dir}) is serving:\n"
        f"  store     {url}/\n"
        f"  API docs  {url}/api/docs/\n"
        f"  health    {url}/healthz\n"
        f"  admin     {url}/admin/\n"
        f"  traces    {url}/ops/traces/ (staff; an account: python manage.py createsuperuser)\n"
        f"  upstream simulator  {config.upstream_url}/_faults\n"
        "Ctrl-C stops every process."
    )
