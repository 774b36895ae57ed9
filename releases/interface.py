"""Releases' public interface: the only module other apps may import.

Declaring flags (in `<app>/releases.py`): `flag_declare(FlagSpec(...))` with `Step`,
`Criteria` and `FlagKind`. The request path: `flag_enabled`, `release_variant`, and for
the page cache, which answers before the middleware's `process_view`,
`releases_decide` with a snapshot from `snapshot_as_of` / `snapshot_refresh` (valid while
the cache epoch has not moved), `releases_observe` and `releases_response_finish`.
Reading state for people:
`releases_overview`, `release_decisions`. Deploys (`manage.py deploy`): each step's
marker, `deploy_step_record`, read back by `deploy_steps_recent` as `DeployStepRecord`.
"""

from releases.cohorts import (
    RequestReleases,
    flag_enabled,
    release_variant,
    releases_decide,
    releases_observe,
    releases_response_finish,
)
from releases.dto import DeployStepRecord
from releases.selectors import deploy_steps_recent, release_decisions, releases_overview
from releases.services import deploy_step_record
from releases.spec import Criteria, FlagKind, FlagSpec, Step, flag_declare
from releases.state import snapshot_as_of, snapshot_refresh

__all__ = [
    "Criteria",
    "DeployStepRecord",
    "FlagKind",
    "FlagSpec",
    "RequestReleases",
    "Step",
    "deploy_step_record",
    "deploy_steps_recent",
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
