"""The cache audit: sample each namespace, compare it with the system of record.

Reports, per namespace, entries that disagree with their owner's current data for
longer than the namespace tolerates (drift: a lost or missing invalidation), and across
the key space, keys no namespace owns and keys that never expire. `cache_audit` prints
the report and fails on drift; the periodic task turns the same findings into metrics.
"""

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

from toolkit.cache import store
from toolkit.cache.metrics import CacheEvent, cache_event
from toolkit.cache.owned import _now
from toolkit.cache.registry import CacheRegistry
from toolkit.cache.registry import registry as default_registry
from toolkit.cache.spec import AuditHook, CacheSpec

# Keys Django itself writes to the shared cache: owned by the framework, not unowned.
FRAMEWORK_PREFIXES = ("django.contrib.sessions.",)
UNOWNED = "(unowned)"
MAX_KEYS_SCANNED = 200_000
MAX_LISTED = 20


@dataclass
class NamespaceAudit:
    namespace: str
    tolerance: int
    entries: int = 0  # entries of the current generation
    retired: int = 0  # entries of older generations, unreachable, waiting to expire
    sampled: int = 0
    drift_within_tolerance: int = 0
    stale: list[str] = field(default_factory=list)  # differ for longer than tolerated
    without_ttl: list[str] = field(default_factory=list)
    audited: bool = True

    @property
    def anomalies(self) -> int:
        return len(self.stale) + len(self.without_ttl)


@dataclass
class StateAudit:
    """Keys of one declared shared state (`StateSpec`): owned, never compared."""

    prefix: str
    owner: str
    keys: int = 0
    without_ttl: list[str] = field(default_factory=list)


@dataclass
class AuditReport:
    namespaces: list[NamespaceAudit]
    states: list[StateAudit]
    unowned: list[str]
    unowned_without_ttl: list[str]
    keys_scanned: int

    @property
    def stale_entries(self) -> int:
        return sum(len(audit.stale) for audit in self.namespaces)

    @property
    def passed(self) -> bool:
        """No entry disagrees with its owner longer than its namespace tolerates."""
        return self.stale_entries == 0


def cache_audit(
    *, sample: int, registry: CacheRegistry = default_registry, rng: random.Random | None = None
) -> AuditReport:
    """Scan the key space once, then sample and check each namespace. Counts anomalies.

    Raises store.CacheUnavailable when the cache server cannot be read.
    """
    rng = rng or random.Random()
    specs = {spec.namespace: spec for spec in registry.specs()}
    keys = _key_space(specs, registry)
    audits = [
        _namespace_audit(spec, keys, sample=sample, registry=registry, rng=rng)
        for spec in specs.values()
    ]
    states = [
        StateAudit(
            prefix=spec.prefix,
            owner=spec.owner,
            keys=len(keys.states[spec.prefix]),
            without_ttl=_without_ttl(keys.states[spec.prefix][: MAX_LISTED * 10]),
        )
        for spec in registry.states()
    ]
    report = AuditReport(
        namespaces=audits,
        states=states,
        unowned=keys.unowned,
        unowned_without_ttl=_without_ttl(keys.unowned[: MAX_LISTED * 10]),
        keys_scanned=keys.scanned,
    )
    cache_event(UNOWNED, CacheEvent.AUDIT_ANOMALY, len(keys.unowned))
    return report


@dataclass
class _KeySpace:
    """The scanned keys, each filed under its owner."""

    scanned: int = 0
    # Per namespace: its entries ("<namespace>:v<generation>:...") and its other keys
    # (the generation counter, locks).
    entries: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    others: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    states: dict[str, list[str]] = field(default_factory=dict)  # per shared state's prefix
    unowned: list[str] = field(default_factory=list)


def _key_space(specs: dict[str, CacheSpec], registry: CacheRegistry) -> _KeySpace:
    """Scan the key space once, filing each key under a namespace, a shared state or none.

    Keys the framework writes (`FRAMEWORK_PREFIXES`) are filed nowhere: owned, not audited.
    """
    keys = _KeySpace(states={spec.prefix: [] for spec in registry.states()})
    for key in _scan():
        keys.scanned += 1
        namespace, _, rest = key.partition(":")
        if namespace not in specs:
            if state := registry.state_of(key):
                keys.states[state.prefix].append(key)
            elif not key.startswith(FRAMEWORK_PREFIXES):
                keys.unowned.append(key)
        elif rest.startswith("v"):
            keys.entries[namespace].append(key)
        else:
            keys.others[namespace].append(key)
    return keys


def _namespace_audit(
    spec: CacheSpec,
    keys: _KeySpace,
    *,
    sample: int,
    registry: CacheRegistry,
    rng: random.Random,
) -> NamespaceAudit:
    """Count a namespace's current and retired entries, compare a sample with its owner.

    Only the current generation is sampled: retired entries are unreachable, so their
    disagreeing with the owner is no drift.
    """
    namespace = spec.namespace
    audit = NamespaceAudit(namespace=namespace, tolerance=spec.staleness_tolerance)
    version = registry.reader(namespace).version()
    current = [k for k in keys.entries[namespace] if _version_of(k) == version]
    audit.entries = len(current)
    audit.retired = len(keys.entries[namespace]) - len(current)
    chosen = rng.sample(current, min(sample, len(current)))
    audit.sampled = len(chosen)
    audit.without_ttl = _without_ttl([*chosen, *keys.others[namespace]])
    if spec.audit is None:
        audit.audited = False
    elif chosen:
        _compare(spec, spec.audit, audit, chosen, registry)
    cache_event(namespace, CacheEvent.AUDIT_ANOMALY, audit.anomalies)
    return audit


def _scan() -> Iterable[str]:
    return store.call(UNOWNED, lambda _: list(islice(store.iter_keys(), MAX_KEYS_SCANNED)))


def _version_of(key: str) -> str:
    return key.split(":", 2)[1]


def _without_ttl(keys: list[str]) -> list[str]:
    def expiry(key: str) -> float | None:
        return store.call(UNOWNED, lambda _: store.expires_in(key))

    return [key for key in keys if expiry(key) is None]


def _compare(
    spec: CacheSpec,
    hook: AuditHook,
    audit: NamespaceAudit,
    keys: list[str],
    registry: CacheRegistry,
) -> None:
    # An entry's age is what it was when read: the owner may take a while to answer,
    # and counting that wait made entries read within their tolerance look stale.
    now = _now()
    found = store.call(spec.namespace, lambda cache: cache.get_many(keys))
    cached = {key.split(":", 2)[2]: found[key] for key in keys if key in found}
    truth = hook({entity_key: entry[0] for entity_key, entry in cached.items()})
    reader = registry.reader(spec.namespace)
    version = reader.version()
    for entity_key, entry in cached.items():
        if entity_key not in truth or truth[entity_key] == entry[0]:
            continue
        full_key = reader.full_key(entity_key, version)
        if full_key not in keys:
            continue  # invalidated while we compared: not drift
        if not reader._reads_current(full_key, entry, None):
            continue  # retired key by key (its own key or one it read): never served
        age = now - entry[1]
        if age > spec.staleness_tolerance:
            audit.stale.append(entity_key)
        else:
            audit.drift_within_tolerance += 1


def audit_table(report: AuditReport) -> str:
    """Render the report for a terminal."""
    lines = [
        f"{'namespace':<26} {'tol s':>5} {'entries':>8} {'retired':>8} {'sampled':>8} "
        f"{'drift ok':>8} {'stale':>6} {'no TTL':>6}"
    ]
    for audit in report.namespaces:
        sampled = str(audit.sampled) if audit.audited else "-"
        lines.append(
            f"{audit.namespace:<26} {audit.tolerance:>5} {audit.entries:>8} {audit.retired:>8} "
            f"{sampled:>8} {audit.drift_within_tolerance:>8} {len(audit.stale):>6} "
            f"{len(audit.without_ttl):>6}"
        )
    for audit in report.namespaces:
        for key in audit.stale[:MAX_LISTED]:
            lines.append(f"STALE {audit.namespace} {key}")
        for key in audit.without_ttl[:MAX_LISTED]:
            lines.append(f"NO TTL {key}")
    for state in report.states:
        lines.append(
            f"shared state {state.prefix} ({state.owner}): {state.keys} keys, "
            f"{len(state.without_ttl)} without a TTL"
        )
        lines.extend(f"NO TTL {key}" for key in state.without_ttl[:MAX_LISTED])
    lines.append(f"{len(report.unowned)} unowned keys of {report.keys_scanned} scanned")
    lines.extend(f"UNOWNED {key}" for key in report.unowned[:MAX_LISTED])
    lines.extend(f"UNOWNED, NO TTL {key}" for key in report.unowned_without_ttl[:MAX_LISTED])
    return "\n".join(lines)


__all__ = ["AuditReport", "NamespaceAudit", "StateAudit", "audit_table", "cache_audit"]
