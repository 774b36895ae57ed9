"""The audits a load run ends with, run against the stack while it is still up."""

import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command, get_commands
from django.test.utils import override_settings

from devstack.processes import StackConfig
from loadtests.gates import AuditResult

# Each audit exits non-zero (CommandError) on a violation. One that does not exist in this
# checkout is reported as skipped, never as clean.
# reconcile_verify does nothing unless drift was injected (the `reconcile-drift` scenario);
# it runs first, as an operator would: reconciliation repairs what its policy allows and
# opens an exception for the rest, and the order audit then fails only on what nobody owns.
AUDIT_COMMANDS = ("reconcile_verify", "audit_orders", "cache_audit")
# Options for an audit at a run's end. The periodic cache audit samples 200 entries per
# namespace to stay cheap; once, after a run, 1,000 are cheap too. The lab's naive price
# import leaves some 80 stale entries among 11,000: a sample of 200 expects 1.5 of them
# (and one run found none), a sample of 1,000 found 7.
AUDIT_OPTIONS: dict[str, dict[str, object]] = {"cache_audit": {"sample": 1_000}}
AUDIT_LINES_SHOWN = 12
FIGURES_PREFIX = "figures: "
AUDITS_FILE = "audits.txt"


def _audit(name: str) -> AuditResult:
    if name not in get_commands():
        return AuditResult(name, None, f"no `{name}` command in this checkout")
    out = StringIO()
    try:
        call_command(name, stdout=out, **AUDIT_OPTIONS.get(name, {}))
    except CommandError as error:
        out.write(f"  {error}\n")
        return AuditResult(name, False, out.getvalue(), _figures(out.getvalue()))
    return AuditResult(name, True, out.getvalue(), _figures(out.getvalue()))


def _figures(output: str) -> dict[str, float] | None:
    """The figures an audit printed for the gates: its last `figures: {json}` line."""
    lines = [line for line in output.splitlines() if line.startswith(FIGURES_PREFIX)]
    return json.loads(lines[-1].removeprefix(FIGURES_PREFIX)) if lines else None


def audits_run(
    *, config: StackConfig, write: Callable[[str], None], keep_in: Path | None = None
) -> list[AuditResult]:
    """Run every audit against this stack's database, cache and simulator.

    The simulator is asked for its captures, so this must run before the stack stops.
    Only each audit's last lines are written; with `keep_in`, all of them go to
    `audits.txt` there, beside the run's report.
    """
    # This process is not one of the stack's: point the payment client at its simulator.
    with override_settings(INTEGRATIONS_UPSTREAM_URL=config.upstream_url):
        results = [_audit(name) for name in AUDIT_COMMANDS]
    for result in results:
        state = {True: "clean", False: "VIOLATIONS", None: "skipped"}[result.clean]
        write(f"Audit {result.name}: {state}")
        if lines := result.output.strip().splitlines():
            shown = lines[-AUDIT_LINES_SHOWN:]
            if len(lines) > len(shown):
                write(f"  ... {len(lines) - len(shown)} more lines")
            write("\n".join(shown))
    if keep_in is not None:
        (keep_in / AUDITS_FILE).write_text(
            "".join(f"== {result.name}\n{result.output}\n" for result in results)
        )
    return results


def audits_clean(results: list[AuditResult]) -> bool:
    return all(result.clean is not False for result in results)
