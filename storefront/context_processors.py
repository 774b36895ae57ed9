from django.conf import settings
from django.http import HttpRequest

from toolkit.lab import active_modes


def store(request: HttpRequest) -> dict[str, object]:
    return {
        "STORE_NAME": settings.STORE_NAME,
        "STORE_CURRENCY": settings.STORE_CURRENCY,
        # The failure-mode lab's modes on, for the banner (empty, and free, while disabled).
        "LAB_MODES": sorted(active_modes()),
    }
