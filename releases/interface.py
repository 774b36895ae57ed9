"""Releases' public interface: the only module other apps may import.

Declaring flags (in `<app>/releases.py`): `flag_declare(FlagSpec(...))` with `Step`,
`Criteria` and `FlagKind`. The request path: `flag_enabled`, `release_variant`, and for
the page cache, which answers before the middleware's `process_view`,
`releases_decide` with a snapshot from `snapshot_as_of` / `snapshot_refresh` (valid while
the cache epoch has not moved), `releases_observe` and `releases_response_finish`.
Reading state for people:
`releases_overview`, `release_decisions`.
"""

from releases.cohorts import (
    RequestReleases,
    flag_enabled,
    release_variant,
    releases_decide,
    releases_observe,
    releases_response_finish,
)
from releases.selectors import release_decisions, releases_overview
from releases.spec import Criteria, FlagKind, FlagSpec, Step, flag_declare
from releases.state import snapshot_as_of, snapshot_refresh

__all__ = [
    "Criteria",
    "FlagKind",
    "FlagSpec",
    "RequestReleases",
    "Step",
    "flag_declare",
    "flag_enabled",
    "release_decisions",
    "release_variant",
    "releases_decide",
    "releases_observe",
    "releases_overview",
    "releases_response_finish",
    "snapshot_as_of",
    "snapshot_refresh",
]
