"""CheckReport: statuses, JSON shape, log rendering, transient blockers."""

from __future__ import annotations

import json

import pytest

from hr_dataverse.checks import CheckEntry, CheckReport
from hr_dataverse.dataverse import AuthError, NetworkError, NotFound, ServerError, Throttled

KEYS = {"check", "target", "status", "cause", "fix", "code", "request_id", "details"}


def test_status_is_the_worst_entry_and_json_has_every_field() -> None:
    report = CheckReport("demo")
    assert report.status == "ok"
    report.ok("table", "cdm_worker", "exists", entity_set="cdm_workers")
    report.warning("change tracking", "cdm_workeraddress", "off", "enable it", code="0x80072491")
    assert report.status == "warning"
    report.failure("table", "cdm_x", NotFound("gone", status=404, code="0x80041102", request_id="r-1"))
    data = json.loads(report.to_json())
    assert data["status"] == "blocker" and data["counts"] == {"ok": 1, "warning": 1, "blocker": 1}
    assert all(set(e) == KEYS for e in data["entries"])
    blocker = data["entries"][2]
    assert blocker["code"] == "0x80041102" and blocker["request_id"] == "r-1"
    assert blocker["details"] == {"diagnosis": "table", "transient": False, "http_status": 404}
    assert [e.target for e in report.blockers()] == ["cdm_x"]


def test_log_lines_give_one_cause_and_one_fix_line_per_failure() -> None:
    report = CheckReport("demo")
    report.ok("token", "authority", "issued")
    report.failure("token", "authority", AuthError("bad secret", aadsts=7000215, request_id="t-9"))
    lines = report.log_lines()
    assert len(lines) == 3
    assert lines[0] == "OK      [token] authority: issued"
    assert lines[1].startswith("BLOCKER [token] authority: Entra ID rejected the client secret (AADSTS7000215)")
    assert lines[1].endswith("(code AADSTS7000215, request id t-9)")
    assert lines[2].strip().startswith("fix: Copy the Value (not the Secret ID)")


def test_entries_are_validated() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        CheckEntry("x", "y", "error", "cause", "fix")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a fix"):
        CheckEntry("x", "y", "blocker", "cause")


@pytest.mark.parametrize(("errors", "transient"), [
    ([Throttled("429", retry_after=5), ServerError("503", status=503)], True),
    ([NetworkError("refused", reason="connection_refused")], True),
    ([NetworkError("untrusted", reason="tls")], False),  # a missing CA bundle does not heal itself
    ([ServerError("503", status=503), AuthError("expired", aadsts=7000222)], False),
    ([], False),
])
def test_only_transient_blockers(errors: list[Exception], transient: bool) -> None:
    report = CheckReport("demo")
    for err in errors:
        report.failure("x", "y", err)
    assert report.only_transient_blockers() is transient
