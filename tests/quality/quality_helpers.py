"""Helpers for the data-quality tests: land emulator data in a warehouse, and read reports back."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

from dataverse_emulator.testing import RunningEmulator, client_settings
from hr_dataverse.catalog import load_catalog
from hr_dataverse.dataverse import DataverseClient, DataverseError
from hr_dataverse.fno import FnoClient, FnoSettings, sync_fno_entity
from hr_dataverse.quality.option_sets import fetch_option_domains
from hr_dataverse.quality.report import ReportPaths
from hr_dataverse.quality.results import CheckResult, QualityRun
from hr_dataverse.sync import sync_table
from hr_dataverse.warehouse import Warehouse

# Every defect the emulator can inject, each on its own table/column so one run shows all of them.
DEFECTS: dict[str, Any] = {
    "defect_null_required": ("cdm_workeraddress", "cdm_addresstype"),
    "defect_orphan_employment": True,
    "defect_duplicate_business_key": ("cdm_worker", "cdm_workernumber"),
    "defect_unknown_option": ("cdm_worker", "cdm_gender"),
    "defect_partial_table": "mshr_hcmworkercertificateentity",
}
SECURED = ("cdm_worker", "cdm_birthdate")  # nulled for the app user by field security


def secure_column(emu: RunningEmulator, table: str, column: str) -> None:
    """Field-secure a column and leave the app user without a profile granting it: Dataverse then
    returns the column as null for every row."""
    emu.app.security.secure_column(table, column)
    emu.app.security.set_field_profiles(emu.info["client_id"], [])


def sync_catalog(emu: RunningEmulator, warehouse: Warehouse, run_id: str = "sync-1") -> dict[str, Any]:
    """Full sync of every catalog table the app may read (the emulator withholds personal details by
    default, as many tenants do); returns the option sets read from the emulator's metadata."""
    catalog = load_catalog()
    with DataverseClient(client_settings(emu.info, max_attempts=3)) as client:
        for spec in catalog:
            if spec.fno_entity:  # worker benefit enrollments: the emulator's F&O endpoint
                with FnoClient(client.settings, FnoSettings(emu.info["fno_url"])) as fno:
                    sync_fno_entity(fno, warehouse, spec, run_id=run_id)
                continue
            try:
                sync_table(client, warehouse, spec, run_id=run_id)
            except DataverseError:
                if spec.required:
                    raise
        return fetch_option_domains(client, catalog)


@dataclass
class Scenario:
    """A warehouse filled from an emulator, and (once checked) its quality run and report."""

    url: str
    schema: str | None
    root: Path
    domains: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)  # what the test knows about the injected data
    run: QualityRun | None = None
    paths: ReportPaths | None = None

    def check(self, check_id: str) -> CheckResult:
        assert self.run is not None
        found = [c for c in self.run.checks if c.id == check_id]
        assert found, f"no check {check_id}; checks: {[c.id for c in self.run.checks]}"
        return found[0]

    def warehouse(self) -> Warehouse:
        return Warehouse(self.url, schema=self.schema)


def page_text(html: str) -> str:
    """Visible text of an HTML page (scripts and styles dropped), whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def report_row(html: str, check_id: str) -> str:
    """Visible text of the failures-table row of one check in a summary page."""
    match = re.search(rf'<tr id="check-{re.escape(check_id)}">(.*?)</tr>', html, flags=re.S)
    assert match, f"the summary has no row for {check_id}"
    return page_text(match.group(1))


def assert_reported(scenario: Scenario, check: CheckResult) -> None:
    """The check is named in the JSON and HTML summaries with its table, column, count and severity."""
    assert scenario.paths is not None
    body = json.loads(scenario.paths.json.read_text(encoding="utf-8"))
    [entry] = [c for c in body["checks"] if c["id"] == check.id]
    assert (entry["table"], entry["column"], entry["unexpected_count"], entry["severity"], entry["success"]) == (
        check.table, check.column, check.unexpected_count, check.severity, False)
    row = report_row(scenario.paths.html.read_text(encoding="utf-8"), check.id)
    for text in (check.table, str(check.unexpected_count), check.severity.capitalize()):
        assert text in row, f"{text!r} missing from the report row {row!r}"
    if check.column:
        assert check.column in row
