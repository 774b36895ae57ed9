"""The audits a load run ends with, run against the stack while it is still up."""

from collections.abc import Callable
from io import StringIO

from django.core.management import CommandError, call_command
from django.test.utils import override_settings

from storefront.stack.processes import StackConfig


def audits_run(*, config: StackConfig, write: Callable[[str], None]) -> bool:
    """Run `audit_orders` against this stack's database and simulator; True if clean.

    The simulator is asked for its captures, so this must run before the stack stops.
    """
    out = StringIO()
    # This process is not one of the stack's: point the payment client at its simulator.
    with override_settings(INTEGRATIONS_UPSTREAM_URL=config.upstream_url):
        try:
            call_command("audit_orders", stdout=out)
            clean = True
        except CommandError as error:
            out.write(f"  {error}\n")
            clean = False
    write("Order audit:")
    write(out.getvalue().rstrip())
    return clean
