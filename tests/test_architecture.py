"""Every module is private to its package unless it is the package's public surface.

An app is used by others only through `<app>.interface`, or through the entry points
Django and Celery load by name (ENTRY_POINTS). The toolkit, perfstats and loadtests are
libraries rather than apps: each public module is listed in LIBRARIES, so a module added
later is private until someone decides otherwise here. `loadtests` is black-box: it
drives the store over HTTP and imports neither Django nor an app.

The layers (which package may import which) are import-linter's contract in
pyproject.toml; this test checks which module of a package others may import, for every
package at the project's root, including one added later.
"""

import importlib
import re
import types
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(
    path.name for path in ROOT.iterdir() if (path / "__init__.py").exists() and path.name != "tests"
)

# Modules Django and Celery import by name, relative to their package.
ENTRY_POINTS = re.compile(
    r"apps|admin|wsgi|tasks|caches"
    r"|releases"  # flag declarations, imported by releases.spec.autodiscover
    r"|settings(\..+)?"  # DJANGO_SETTINGS_MODULE; settings.environment reads every switch
    r"|migrations(\..+)?|templatetags\..+|management\.commands\..+|(.+\.)?urls"
)

LIBRARIES = {
    "toolkit": {
        "toolkit.cache",  # cache ownership: declare, reader, registry, SharedState, ...
        "toolkit.cache.http",  # whole-response caching for views
        "toolkit.changes",
        "toolkit.clients",  # client address behind trusted proxies, identity, key
        "toolkit.filebroker",  # the embedded broker transport (wholefiles://)
        "toolkit.errors",
        "toolkit.lab",  # the failure-mode lab's switches: `mode_on` where the paths part
        "toolkit.manifest",
        "toolkit.metrics",
        "toolkit.metrics.celery",  # task metrics, wired by the project's Celery app
        "toolkit.metrics.sql",  # statement shapes: the N+1 metric's and the trace waterfall's
        "toolkit.once",
        "toolkit.pagination",
        "toolkit.priority",  # boot at a low CPU priority, serve at the normal one
        "toolkit.query",
        "toolkit.replicas",
        "toolkit.request_context",
        "toolkit.routes",
        "toolkit.settings_cache",  # settings read on every request, kept until changed
        "toolkit.tracing",  # store_span, outgoing_request_span, span_annotate, trace_id_get
        "toolkit.tracing.ring",  # the embedded trace store, read by /ops/traces/
        "toolkit.tracing.setup",  # tracing for a process without Django (the simulator)
    },
    "perfstats": {"perfstats.charts", "perfstats.quantiles"},
    # What the runner (devstack) drives: the scenarios, the event log, gates and reports.
    "loadtests": {
        "loadtests.catalog",
        "loadtests.compare",
        "loadtests.gates",
        "loadtests.identity",  # simulated clients' signed ids (bench_overload)
        "loadtests.lab",  # the failure-mode lab's runs: scenario and deciding gates per mode
        "loadtests.names",
        "loadtests.openloop",
        "loadtests.overload",
        "loadtests.report",
        "loadtests.results",
        "loadtests.scenarios",
    },
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def _package(module: str) -> str:
    return module.partition(".")[0]


def _public(module: str) -> bool:
    package, _, inside = module.partition(".")
    if package in LIBRARIES:
        return module in LIBRARIES[package]
    return inside == "interface" or bool(ENTRY_POINTS.fullmatch(inside))


def _names_a_public_attribute(line: str) -> bool:
    """`from toolkit.cache import registry`: grimp sees the submodule, Python binds the
    object the public module re-exports under that name."""
    match = re.fullmatch(r"from ([\w.]+) import (\w+)(?: as \w+)?", line.strip())
    if match is None or not _public(match.group(1)):
        return False
    value = getattr(importlib.import_module(match.group(1)), match.group(2), None)
    return value is not None and not isinstance(value, types.ModuleType)


def _cross_package_imports(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    return sorted(
        (importer, imported)
        for importer in graph.modules
        if _package(importer) in PACKAGES
        for imported in graph.find_modules_directly_imported_by(importer)
        if _package(imported) in PACKAGES and _package(imported) != _package(importer)
    )


def test_packages_import_only_each_others_public_modules(graph):
    private = [
        f"{importer} imports {imported} (line {detail['line_number']})"
        for importer, imported in _cross_package_imports(graph)
        if not _public(imported)
        for detail in graph.get_import_details(importer=importer, imported=imported)
        if not _names_a_public_attribute(detail["line_contents"])
    ]

    assert private == [], (
        "import the package's interface (or add the module to its public surface here): "
        + "; ".join(private)
    )


def test_loadtests_import_neither_django_nor_an_app(graph):
    imported = {
        _package(module)
        for importer in graph.find_children("loadtests") | graph.find_descendants("loadtests")
        for module in graph.find_modules_directly_imported_by(importer)
    }
    # perfstats is a plain library (statistics, charts) that imports nothing of ours.
    apps = set(PACKAGES) - {"loadtests", "perfstats"}

    assert imported & apps == set()
    assert not graph.chain_exists(importer="loadtests", imported="django", as_packages=True)


def test_only_the_runner_imports_loadtests(graph):
    importers = {
        _package(importer)
        for importer, imported in _cross_package_imports(graph)
        if _package(imported) == "loadtests"
    }

    assert importers <= {"devstack"}


def test_the_rule_sees_a_private_import_and_lets_entry_points_through():
    assert not _public("checkout.services")
    assert not _public("toolkit.cache.store")
    assert _public("checkout.interface")
    assert _public("releases.urls")
    assert _public("storefront.api.urls")
    assert _public("integrations.management.commands.faults")
    assert _names_a_public_attribute("from toolkit.cache import registry")
    assert not _names_a_public_attribute("from toolkit.cache import store")
