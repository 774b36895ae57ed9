"""Which flags are on for this request, and which cohort its subject is in.

`ReleaseMiddleware` decides once per request, after authentication and URL resolution
(`process_view`), and leaves the answer on `request.releases`; views ask through
`flag_enabled(request, name)`. It reads only the cached snapshot (no query) and touches
the subject (user, session, cookie) only while some rollout is partly exposed.

The subject is `user:<id>` for a signed-in user, else `session:<key>` when a session
exists, else `visitor:<id>` from the first-party cookie this middleware sets (a random
id, a year long, HttpOnly, SameSite=Lax). Cohorts are labelled for every partly exposed
rollout on every route (so checkout completion can be compared), but a flag is only
ever *on* on the routes it declares.

The visitor cookie is signed with the secret key: a visitor cannot pick an id that
hashes into the cohort they want, and a forged or unsigned value counts as no cookie (a
new id is decided). Shared caches (a CDN, a proxy) must neither keep the cookie nor hand
one cohort's page to another, so `releases_response_finish` makes a response that
depends on the cohort private (`Vary: Cookie`), and sets a new visitor's cookie only on
a response no shared cache may keep: on a public one (a cached page of a route no
partly exposed flag changes) the cohort decided for this request is used and the cookie
waits for a private response (a flag's own pages, the cart, checkout).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from releases import metrics
from releases.hashing import BASIS_POINTS, subject_exposed
from releases.spec import FLAGS, FlagKind, FlagSpec
from releases.state import Snapshot, flag_state, snapshot_get
from toolkit.manifest import ownership_manifest
from toolkit.once import created_once

SUBJECT_COOKIE = "peakstore_subject"
SUBJECT_COOKIE_AGE = 365 * 24 * 3600
# Namespaces the cookie's signature, so no other signed value of the store passes for it.
SUBJECT_COOKIE_SALT = "releases.cohorts"
PARTIAL_STATUSES = frozenset({"running", "held"})


@dataclass(frozen=True)
class RequestReleases:
    route: str
    enabled: frozenset[str]  # flags on for this request (declared for this route)
    cohorts: dict[str, str] = field(default_factory=dict)  # flag -> canary | control
    scoped: frozenset[str] = frozenset()  # flags whose cohorts this route's timing feeds
    variant: str = ""  # in-scope flags that differ from their default, "a,b"
    new_subject: str | None = None  # a visitor id to set as a cookie


_current: ContextVar[RequestReleases | None] = ContextVar("peakstore_releases", default=None)


@created_once
def _specs_by_route() -> dict[str, tuple[FlagSpec, ...]]:
    by_route: dict[str, list[FlagSpec]] = {}
    for spec in FLAGS.values():
        for route in spec.routes:
            by_route.setdefault(route, []).append(spec)
    return {route: tuple(specs) for route, specs in by_route.items()}


def _partly_exposed(spec: FlagSpec, snapshot: Snapshot) -> int | None:
    """The exposure of a rollout exposed to some but not all subjects, else None."""
    state = flag_state(spec, snapshot)
    partial = (
        spec.kind is FlagKind.ROLLOUT
        and state.status in PARTIAL_STATUSES
        and 0 < state.exposure_bp < BASIS_POINTS
    )
    return state.exposure_bp if partial else None


def _subject(request: HttpRequest) -> tuple[str, str | None]:
    """Return (subject, new visitor id to set or None)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}", None
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        return f"session:{session.session_key}", None
    if visitor := _visitor_id(request):
        return f"visitor:{visitor}", None
    visitor = uuid.uuid4().hex
    return f"visitor:{visitor}", visitor


def _visitor_id(request: HttpRequest) -> str | None:
    """The visitor id of a cookie this store signed; None for none, a forged or an
    unsigned one, or one older than the cookie's age."""
    if SUBJECT_COOKIE not in request.COOKIES:
        return None
    visitor = request.get_signed_cookie(
        SUBJECT_COOKIE, default=None, salt=SUBJECT_COOKIE_SALT, max_age=SUBJECT_COOKIE_AGE
    )
    return visitor or None


def _publicly_cacheable(response: HttpResponseBase) -> bool:
    cache_control = response.get("Cache-Control", "").lower()
    return "public" in cache_control or "s-maxage" in cache_control


def releases_response_finish(
    request: HttpRequest, response: HttpResponseBase, releases: RequestReleases
) -> None:
    """Keep a response that depends on the visitor's cohort out of shared caches, and
    give a new visitor their cookie where no shared cache can keep it."""
    if releases.scoped:
        # The page differs by cohort: a shared cache would hand it to the other one.
        patch_cache_control(response, private=True)
        patch_vary_headers(response, ("Cookie",))
    if releases.new_subject and not _publicly_cacheable(response):
        # The cookie is this visitor's alone: no shared cache may keep it either.
        patch_cache_control(response, private=True)
        response.set_signed_cookie(
            SUBJECT_COOKIE,
            releases.new_subject,
            salt=SUBJECT_COOKIE_SALT,
            max_age=SUBJECT_COOKIE_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )


# While no rollout is partly exposed, a route's decision depends on the snapshot alone:
# each process makes it once per published snapshot (the page cache's fast path asks on
# every hit). Holds the snapshot itself, compared by identity.
_uniform: tuple[Snapshot | None, dict[str, RequestReleases]] = (None, {})


def releases_for(request: HttpRequest, route: str) -> RequestReleases:
    """Decide every flag for this request. No query; one cache read."""
    return releases_decide(request, route, snapshot_get())


def releases_decide(request: HttpRequest, route: str, snapshot: Snapshot) -> RequestReleases:
    """Decide every flag for this request from a snapshot the caller read. No I/O."""
    global _uniform
    seen, decided = _uniform
    if seen is snapshot and route in decided:
        return decided[route]
    partial = {
        spec.name: (spec, bp)
        for spec in FLAGS.values()
        if (bp := _partly_exposed(spec, snapshot)) is not None
    }
    releases = _decide(request, route, snapshot, partial)
    if not partial:
        if seen is not snapshot:
            _uniform = (snapshot, decided := {})
        decided[route] = releases
    return releases


def _decide(
    request: HttpRequest, route: str, snapshot: Snapshot, partial: dict[str, tuple[FlagSpec, int]]
) -> RequestReleases:
    scoped_specs = _specs_by_route().get(route, ())
    subject = new_subject = None
    if partial:
        subject, new_subject = _subject(request)
    cohorts = {
        name: metrics.CANARY
        if subject_exposed(salt=spec.salt, flag=name, subject=subject, exposure_bp=bp)
        else metrics.CONTROL
        for name, (spec, bp) in partial.items()
        if subject is not None
    }
    enabled = set()
    variant = []
    for spec in scoped_specs:
        if spec.name in cohorts:
            on = cohorts[spec.name] == metrics.CANARY
        else:
            on = flag_state(spec, snapshot).exposure_bp >= BASIS_POINTS
        if on:
            enabled.add(spec.name)
        if on != (spec.default_exposure_bp >= BASIS_POINTS):
            variant.append(spec.name)
    return RequestReleases(
        route=route,
        enabled=frozenset(enabled),
        cohorts=cohorts,
        scoped=frozenset(spec.name for spec in scoped_specs if spec.name in cohorts),
        variant=",".join(sorted(variant)),
        new_subject=new_subject,
    )


def flag_enabled(request: HttpRequest, name: str) -> bool:
    """Return whether flag `name` is on for this request (its declared default outside
    the middleware, e.g. a view called directly)."""
    releases: RequestReleases | None = getattr(request, "releases", None)
    if releases is None:
        return FLAGS[name].default_exposure_bp >= BASIS_POINTS
    return name in releases.enabled


def release_variant(request: HttpRequest) -> str:
    """Name the flags that make this request's page differ from the default page ("" if
    none): a shared page cache keys on it, so cohorts never see each other's pages."""
    releases: RequestReleases | None = getattr(request, "releases", None)
    return releases.variant if releases is not None else ""


def release_funnel_step(step: str) -> None:
    """Count a checkout step under the current request's cohorts, once it commits."""
    releases = _current.get()
    if releases is None or not releases.cohorts:
        return
    if step not in (metrics.CHECKOUT_STARTED, metrics.CHECKOUT_COMPLETED):
        return
    for flag, cohort in releases.cohorts.items():
        transaction.on_commit(
            partial(metrics.checkout_observe, flag=flag, cohort=cohort, step=step)
        )


def releases_observe(releases: RequestReleases, *, seconds: float, status: int) -> None:
    """Time a request under the cohorts of the flags its route feeds (the release gate)."""
    entry = ownership_manifest().route(releases.route)
    slo_s = entry.slo_p95_ms / 1000 if entry else 10.0
    timeout_after = slo_s * settings.PEAKSTORE_METRICS_TIMEOUT_FACTOR
    for flag in releases.scoped:
        metrics.request_observe(
            flag=flag,
            cohort=releases.cohorts[flag],
            seconds=seconds,
            error=status >= 500,
            timeout=seconds > timeout_after,
        )


class ReleaseMiddleware:
    """Decide flags and cohorts per request; time the request under its cohorts.

    Place it after the session and authentication middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            releases: RequestReleases | None = getattr(request, "releases", None)
            if releases is not None:
                _current.set(None)
        if releases is None:
            return response
        if releases.scoped:
            releases_observe(
                releases, seconds=time.perf_counter() - started, status=response.status_code
            )
        releases_response_finish(request, response, releases)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        match = request.resolver_match
        if match is None:
            return None
        releases = releases_for(request, match.view_name)
        request.releases = releases  # type: ignore[attr-defined]  # HttpRequest does not declare it
        _current.set(releases)
        return None
