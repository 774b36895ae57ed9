"""Every alert and every exception kind links to a runbook that says what to do."""

from pathlib import Path

import pytest
import yaml  # drf-spectacular's dependency

from reconciliation.routines import ROUTINES
from toolkit.manifest import ownership_manifest

ROOT = Path(__file__).resolve().parent.parent.parent
SECTIONS = (
    "## What it means",
    "## How to confirm",
    "## How to fix",
    "## When to escalate, and to whom",
)


RULE_FILES = ("prometheus-rules.yml", "prometheus-slo-rules.yml", "prometheus-alerts.yml")


def _alerts():
    return [
        rule
        for name in RULE_FILES
        for group in yaml.safe_load((ROOT / "docs/ops" / name).read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _assert_runbook(path: str) -> None:
    text = (ROOT / path).read_text()
    for section in SECTIONS:
        assert section in text, f"{path} lacks {section!r}"


@pytest.mark.parametrize("alert", _alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_links_its_runbook(alert):
    runbook = alert["annotations"]["runbook"]

    assert runbook == f"docs/runbooks/{alert['alert']}.md"
    _assert_runbook(runbook)


def test_the_runbooks_index_lists_every_runbook():
    index = (ROOT / "docs/runbooks/README.md").read_text()
    pages = {path.name for path in (ROOT / "docs/runbooks").glob("*.md")} - {"README.md"}

    for page in pages:
        assert f"]({page})" in index, f"docs/runbooks/README.md does not list {page}"


def test_every_exception_kind_a_routine_opens_is_owned_with_a_runbook():
    kinds = {kind for _, routine_kinds in ROUTINES.values() for kind in routine_kinds}
    manifest = ownership_manifest()

    for kind in kinds:
        entry = manifest.exception(kind)
        assert entry is not None, f"{kind} is not in the ownership manifest"
        assert entry.runbook == f"docs/runbooks/{kind}.md"
        _assert_runbook(entry.runbook)
    assert {entry.kind for entry in manifest.exceptions} == kinds
