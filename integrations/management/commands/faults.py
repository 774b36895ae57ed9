"""Inspect and inject upstream faults: `python manage.py faults status|set|preset`.

Talks to the simulator's control API at INTEGRATIONS_UPSTREAM_URL (or --url; without
either, the simulator of the stack running on this PEAKSTORE_VAR_DIR), e.g.
    python manage.py faults set reviews --latency-ms 50,400 --error-rate 0.1
    python manage.py faults preset optional-down
    python manage.py faults drift erp-stock --rate 0.05
"""

import json

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.fault_presets import (
    DEPENDENCIES,
    DRIFT_KINDS,
    PRESETS,
    drift_inject,
    faults_preset_apply,
    faults_set,
    faults_status,
)


def _latency(value: str) -> list[float]:
    try:
        p50, p99 = (float(part) for part in value.split(","))
    except ValueError:
        raise CommandError("--latency-ms takes P50,P99 in milliseconds, e.g. 50,400") from None
    return [p50, p99]


class Command(BaseCommand):
    help = "Show or change the upstream simulator's fault profiles."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", help="simulator URL (default: INTEGRATIONS_UPSTREAM_URL)")
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("status", help="every dependency's profile")
        fault = actions.add_parser("set", help="replace one dependency's profile")
        fault.add_argument("dependency", choices=DEPENDENCIES)
        fault.add_argument("--latency-ms", type=_latency, metavar="P50,P99")
        fault.add_argument("--error-rate", type=float, metavar="R")
        fault.add_argument("--reset-rate", type=float, metavar="R")
        fault.add_argument("--drip-ms", type=int, metavar="MS")
        fault.add_argument("--hang", action="store_true")
        fault.add_argument("--down", action="store_true")
        preset = actions.add_parser("preset", help="apply a named scenario to every dependency")
        preset.add_argument("name", choices=sorted(PRESETS))
        drift = actions.add_parser("drift", help="change a share of a system of record's data")
        drift.add_argument("kind", choices=DRIFT_KINDS)
        drift.add_argument("--rate", type=float, default=0.05, metavar="R")

    def handle(self, *args: object, action: str, url: str | None, **options: object) -> None:
        try:
            if action == "status":
                result = faults_status(url=url)
            elif action == "drift":
                if not 0 <= float(str(options["rate"])) <= 1:
                    raise CommandError("--rate is a share from 0 to 1")
                result = drift_inject(str(options["kind"]), float(str(options["rate"])), url=url)
            elif action == "preset":
                result = faults_preset_apply(str(options["name"]), url=url)
            else:
                profile = {
                    name: options[name]
                    for name in ("latency_ms", "error_rate", "reset_rate", "drip_ms")
                    if options[name] is not None
                }
                profile.update({name: True for name in ("hang", "down") if options[name]})
                result = faults_set(str(options["dependency"]), profile, url=url)
        except httpx.HTTPStatusError as refused:
            raise CommandError(f"the simulator refused: {refused.response.text}") from None
        except httpx.TransportError as unreachable:
            raise CommandError(f"no simulator answers: {unreachable!r}") from None
        self.stdout.write(json.dumps(result, indent=2))
