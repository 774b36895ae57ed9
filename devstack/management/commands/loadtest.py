"""Load-test a stack it boots: `python manage.py loadtest --scenario smoke`.

Measures the machine first (its class and a calibration figure: `devstack.calibration`),
boots simulator, web, worker and beat on loopback, seeds an empty store, runs the
scenario's Locust shape headless, runs the audits against the still-running stack, then
evaluates the gates (`loadtests/gates.toml`, and the stored baseline of this machine's
class, or another class's scaled by calibration) and writes the report (`report.html`,
`report.json`, `summary.md`, `junit.xml`). The exit code is the verdict.

`--record-baseline` stores this run as its machine class's baseline (after its absolute
gates pass). `--evaluate DIR` skips the run and judges a results folder left by another
one, e.g. a distributed Locust master's (see `loadtests/README.md`).

`loadtest compare BASE HEAD` compares two runs' reports (folders or report.json files)
figure by figure against their measured noise (`loadtests/compare.py`), writes
`compare.md`, `compare.json` and `compare.html` (both runs side by side over time, with
each run's gates: `make compare A=... B=...`), and exits non-zero on a regression.
"""

import json
import secrets
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from devstack.audit import audits_run
from devstack.calibration import calibration_measure, machine_describe
from devstack.loadrun import scenario_run, summary_table
from devstack.prepare import store_prepare
from devstack.processes import (
    Stack,
    StackConfig,
    StackError,
    free_port,
    sigterm_as_interrupt,
    web_process,
    web_stack_config,
    web_workers_sharing,
)
from loadtests.compare import (
    NotComparable,
    comparison_markdown,
    comparison_write,
    report_document_read,
    reports_compare,
)
from loadtests.gates import (
    AuditResult,
    MachineClass,
    baseline_choose,
    baseline_load,
    baseline_write,
    gates_evaluate,
    gates_load,
    verdict,
)
from loadtests.report import comparison_html, report_write
from loadtests.results import results_read
from loadtests.scenarios import SCENARIOS, Scenario, scenario_get
from releases.interface import release_decisions
from storefront.settings.environment import BASE_DIR, ENV

MACHINE_FILE = "machine.json"


class Command(BaseCommand):
    help = (
        "Boot the stack, run a Locust scenario headless, judge it by its gates, report; "
        "or `compare BASE HEAD`: two runs' reports, a regression beyond noise exits non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "compare",
            nargs="*",
            metavar="compare BASE HEAD",
            help="compare two report folders (or report.json files) instead of running",
        )
        parser.add_argument(
            "--out",
            type=Path,
            help="compare: where compare.md and compare.json go (default: reports/compare)",
        )
        parser.add_argument("--scenario", default="smoke", choices=sorted(SCENARIOS))
        parser.add_argument("--users", type=int, help="peak users (scenario's default)")
        parser.add_argument("--duration", type=int, help="seconds (scenario's default)")
        parser.add_argument(
            "--processes", type=int, help="Locust processes; -1 for one per core (default 1)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            help="distributed Locust: one --master and this many --worker processes",
        )
        parser.add_argument(
            "--web-stacks",
            type=int,
            default=1,
            help="web stacks on the one store (each its own gunicorn and port); the users "
            "take them in turn",
        )
        parser.add_argument(
            "--web-workers",
            type=int,
            help="gunicorn workers of each web stack (default: the machine's two, shared "
            "among the stacks: one each for two)",
        )
        parser.add_argument("--port", type=int, default=ENV.port, help="default: $PORT or 8000")
        parser.add_argument("--products", type=int, help="seed size if empty (scenario's default)")
        parser.add_argument("--reports", type=Path, default=BASE_DIR / "reports")
        parser.add_argument(
            "--record-baseline",
            action="store_true",
            help="store this run as its machine class's entry of "
            "loadtests/baselines/<scenario>.json",
        )
        parser.add_argument(
            "--evaluate",
            type=Path,
            metavar="DIR",
            help="judge an existing results folder instead of running (audits run against "
            "the database and upstream this environment names)",
        )

    def handle(
        self,
        *args: object,
        compare: list[str],
        out: Path | None,
        scenario: str,
        users: int | None,
        duration: int | None,
        processes: int | None,
        workers: int | None,
        web_stacks: int,
        web_workers: int | None,
        port: int,
        products: int | None,
        reports: Path,
        record_baseline: bool,
        evaluate: Path | None,
        **_: object,
    ) -> None:
        if compare:
            if len(compare) != 3 or compare[0] != "compare":
                raise CommandError("usage: loadtest compare BASE HEAD")
            self._compare(Path(compare[1]), Path(compare[2]), out=out or reports / "compare")
            return
        if web_stacks < 1 or (web_workers is not None and web_workers < 1):
            raise CommandError("--web-stacks and --web-workers need at least 1")
        if web_workers is None:
            web_workers = web_workers_sharing(web_stacks)
        chosen = scenario_get(scenario).scaled(
            users=users, duration_s=duration, processes=processes, workers=workers
        )
        if evaluate is not None:
            report_dir = evaluate
            audits = audits_run(
                config=StackConfig(port=port), write=self.stdout.write, keep_in=report_dir
            )
        else:
            report_dir = reports / chosen.name
            report_dir.mkdir(parents=True, exist_ok=True)
            machine = self._machine_measure(report_dir)
            if users is None:
                chosen = self._sized(chosen, machine)
            audits = self._run(
                chosen,
                port=port,
                products=products,
                report_dir=report_dir,
                web_stacks=web_stacks,
                web_workers=web_workers,
            )
        self._judge(
            chosen,
            report_dir,
            audits,
            record=record_baseline,
            web_stacks=web_stacks,
            web_workers=web_workers,
        )

    def _machine_measure(self, report_dir: Path) -> MachineClass:
        """Describe this machine and calibrate it now, before the stack takes the cores;
        kept beside the results as machine.json."""
        self.stdout.write("Calibrating: bare Django req/s on this machine...")
        machine = machine_describe(
            profile=ENV.profile, calibration_rps=calibration_measure(log_dir=report_dir)
        )
        (report_dir / MACHINE_FILE).write_text(json.dumps(machine.as_dict(), indent=2) + "\n")
        self.stdout.write(
            f"Machine class {machine.key}, calibration {machine.calibration_rps} req/s"
        )
        return machine

    def _sized(self, scenario: Scenario, machine: MachineClass) -> Scenario:
        """The scenario's peak cut to this machine's calibration, said when it is."""
        sized = scenario.sized_for(machine.calibration_rps)
        if sized.users != scenario.users:
            self.stdout.write(
                f"Peak {sized.users} users: the scenario's {scenario.users} were sized on a "
                f"machine calibrated at {scenario.sized_at_calibration_rps:,.0f} req/s, this "
                f"one at {machine.calibration_rps:,.0f}"
            )
        return sized

    def _machine(self, report_dir: Path) -> MachineClass:
        """The machine the results were measured on: as the run recorded it, or (a folder
        from elsewhere) this one, measured now."""
        path = report_dir / MACHINE_FILE
        if path.exists():
            return MachineClass.from_dict(json.loads(path.read_text()))
        return self._machine_measure(report_dir)

    def _compare(self, base: Path, head: Path, *, out: Path) -> None:
        try:
            base_doc, head_doc = report_document_read(base), report_document_read(head)
            comparison = reports_compare(
                base_doc, head_doc, base_name=str(base), head_name=str(head)
            )
        except (FileNotFoundError, NotComparable) as error:
            raise CommandError(str(error)) from None
        paths = comparison_write(comparison, out_dir=out)
        # The same runs side by side over time, with each run's gates (report.py).
        (out / "compare.html").write_text(comparison_html(comparison, base_doc, head_doc))
        self.stdout.write(comparison_markdown(comparison))
        self.stdout.write(f"Comparison: {paths['markdown']} (and compare.json, compare.html)")
        if comparison.regressed:
            names = ", ".join(f.name for f in comparison.regressions)
            raise CommandError(f"regression against the base: {names}")
        self.stdout.write(self.style.SUCCESS("no regression against the base"))

    def _run(
        self,
        scenario: Scenario,
        *,
        port: int,
        products: int | None,
        report_dir: Path,
        web_stacks: int = 1,
        web_workers: int = StackConfig.web_workers,
    ) -> list[AuditResult]:
        """Boot the stack, run the scenario, audit; return the audits' results."""
        store_prepare(products=products or scenario.seed_products, stdout=self.stdout)
        # A fresh token per run: the back-office API is open only to this run's writers.
        token = secrets.token_urlsafe(24)
        # Its load generator's key: each simulated visit is a client of its own to the
        # store's throttles and holds (loadtests/users.py, toolkit/clients.py).
        loadgen_key = secrets.token_urlsafe(24)
        config = StackConfig(
            port=port,
            web_workers=web_workers,
            log_dir=ENV.var_dir / "log",
            env={"PEAKSTORE_BACKOFFICE_TOKEN": token, "PEAKSTORE_LOADGEN_KEY": loadgen_key},
        )
        self.stdout.write(f"Starting the stack at {config.base_url} (logs in {config.log_dir})")
        try:
            with sigterm_as_interrupt(), Stack(config), ExitStack() as more:
                hosts = [config.base_url]
                for _ in range(web_stacks - 1):
                    web = web_stack_config(
                        replace(config, port=free_port()), upstream_url=config.upstream_url
                    )
                    more.enter_context(
                        Stack(web, processes=[replace(web_process(web), name=f"web-{web.port}")])
                    )
                    hosts.append(web.base_url)
                    self.stdout.write(f"Another web stack at {web.base_url}")
                run_started = timezone.now()
                summary = scenario_run(
                    scenario=scenario,
                    stack=config,
                    report_dir=report_dir,
                    backoffice_token=token,
                    loadgen_key=loadgen_key,
                    hosts=tuple(hosts) if web_stacks > 1 else (),
                    write=self.stdout.write,
                )
                # Release decisions the gates took during the run, for the report's timeline.
                (report_dir / "releases.json").write_text(
                    json.dumps(release_decisions(since=run_started), default=str)
                )
                self.stdout.write("Running the audits against the live stack...")
                audits = audits_run(config=config, write=self.stdout.write, keep_in=report_dir)
        except KeyboardInterrupt:
            raise CommandError("interrupted; stopped every process") from None
        except StackError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Per journey (shed requests left out):\n{summary_table(summary)}")
        return audits

    def _judge(
        self,
        scenario: Scenario,
        report_dir: Path,
        audits: list[AuditResult],
        *,
        record: bool,
        web_stacks: int = 1,
        web_workers: int = StackConfig.web_workers,
    ) -> None:
        """Evaluate the gates, write the report, and fail the command if a gate failed."""
        results = results_read(report_dir, scenario=scenario.name)
        machine = self._machine(report_dir)
        baseline = None if record else baseline_choose(baseline_load(scenario.name), machine)
        rows = gates_evaluate(results, gates_load(scenario.name), audits=audits, baseline=baseline)
        meta: dict[str, Any] = {
            "shape": scenario.shape,
            "users": scenario.users,
            # The scenario's own peak: unequal when --users or this machine's calibration
            # (Scenario.sized_for) set another.
            "scenario_users": scenario_get(scenario.name).users,
            "duration_s": scenario.run_time_s,
            "processes": scenario.processes,
            "workers": scenario.workers,
            "web_stacks": web_stacks,
            "web_workers": web_workers,
            "profile": ENV.profile,
            "machine": machine.as_dict(),
        }
        paths = report_write(results, rows, report_dir=report_dir, baseline=baseline, meta=meta)
        self.stdout.write(paths["markdown"].read_text())
        self.stdout.write(f"Report: {paths['html']} (and report.json, summary.md, junit.xml)")
        if not verdict(rows):
            raise CommandError(f"{scenario.name}: performance gates failed (see above)")
        if record:
            path = baseline_write(results, machine)
            self.stdout.write(self.style.SUCCESS(f"Recorded a new baseline: {path}"))
        self.stdout.write(self.style.SUCCESS(f"{scenario.name}: passed"))
