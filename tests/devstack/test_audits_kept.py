"""A run's audits: the last lines shown, every line kept beside the report."""

import devstack.audit
from devstack.audit import AUDITS_FILE, audits_run
from devstack.processes import StackConfig
from loadtests.gates import AuditResult


def test_every_line_of_every_audit_is_kept_beside_the_report(tmp_path, monkeypatch):
    output = "\n".join(f"line {number}" for number in range(40))
    monkeypatch.setattr(devstack.audit, "AUDIT_COMMANDS", ("cache_audit",))
    monkeypatch.setattr(devstack.audit, "_audit", lambda name: AuditResult(name, False, output))
    shown: list[str] = []

    audits_run(config=StackConfig(port=0), write=shown.append, keep_in=tmp_path)

    assert "line 0" not in "\n".join(shown)  # only the last lines are shown
    kept = (tmp_path / AUDITS_FILE).read_text()
    assert kept.startswith("== cache_audit\nline 0\n")
    assert "line 39" in kept
