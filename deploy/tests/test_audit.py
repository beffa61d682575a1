"""The requirements audit step of the test command: fails on a known vulnerability, says NOT AUDITED (and passes
unless DN_AUDIT_REQUIRED=1) when no advisory source answers."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from stack import REPO_ROOT

spec = importlib.util.spec_from_file_location("audit_requirements", REPO_ROOT / "deploy/local/audit_requirements.py")
audit_requirements = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
sys.modules["audit_requirements"] = audit_requirements
spec.loader.exec_module(audit_requirements)  # type: ignore[union-attr]

CLEAN = [{"name": "django", "version": "5.2.19", "vulns": []}, {"name": "x", "skip_reason": "not on PyPI"}]
VULNERABLE = [{"name": "django", "version": "5.2.19", "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["5.2.20"]}]}]
UNREACHABLE = [{"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited"}]


@pytest.mark.parametrize(
    ("answers", "required", "exit_code", "says"),
    [
        ({"pypi": (CLEAN, "")}, "", 0, "no known vulnerabilities"),
        ({"pypi": (VULNERABLE, "")}, "", 1, "VULNERABLE django 5.2.19: PYSEC-0000-1 (fixed in 5.2.20)"),
        ({"pypi": (UNREACHABLE, ""), "osv": (VULNERABLE, "")}, "", 1, "VULNERABLE django"),
        ({"pypi": (UNREACHABLE, ""), "osv": ([], "osv: ConnectionError")}, "", 0, "NOT AUDITED"),
        ({"pypi": (UNREACHABLE, ""), "osv": ([], "osv: ConnectionError")}, "1", 1, "NOT AUDITED"),
    ],
    ids=["clean", "vulnerable", "osv-finds-it", "no-source", "no-source-but-required"],
)
def test_the_audit_verdict(monkeypatch, capsys, answers, required, exit_code, says):
    monkeypatch.setattr(audit_requirements, "audit", lambda files, source: answers[source])
    monkeypatch.setenv("DN_AUDIT_REQUIRED", required)
    assert audit_requirements.main(["requirements/base.txt"]) == exit_code
    assert says in capsys.readouterr().out
