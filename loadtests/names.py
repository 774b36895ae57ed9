"""Request names: the journey in brackets, then the path template (`[browse] /p/[slug]/`).

Locust groups its statistics by request name, so a name is a template, never a real
URL: placeholders stand for slugs, tokens and SKUs, and the query keeps only its kind
(`?filter`, `?page=deep`). The recorder files each request under its journey, and the
runner maps each name to the store's route for its SLO; both read names here.
"""

import re

OTHER_JOURNEY = "other"
_JOURNEY = re.compile(r"^\[([\w-]+)\]")


def journey_of(name: str) -> str:
    """The journey a request name belongs to: `[browse] /` -> `browse`."""
    match = _JOURNEY.match(name)
    return match.group(1) if match else OTHER_JOURNEY


def path_of(name: str) -> str:
    """The path template of a request name: `[browse] /c/[slug]/?filter` -> `/c/[slug]/`."""
    return _JOURNEY.sub("", name).strip().split("?", 1)[0]
