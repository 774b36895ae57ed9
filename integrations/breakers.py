"""Circuit breakers by dependency name: what operators and benchmarks may touch."""

from collections.abc import Iterable

from integrations import erp, payments, pim, recommendations, reviews, shipping, tax
from integrations.resilience import Breaker

SPECS = {
    module.SPEC.name: module.SPEC
    for module in (erp, payments, pim, recommendations, reviews, shipping, tax)
}


def breakers_close(*, dependencies: Iterable[str]) -> None:
    """Close these dependencies' breakers and forget their failures, as on recovery."""
    for name in dependencies:
        Breaker(SPECS[name]).reset()
