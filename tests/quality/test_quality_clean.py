"""Clean emulator data: every check passes; reports, Data Docs and history are written."""

from __future__ import annotations

import json

from quality_helpers import Scenario, page_text

from hr_dataverse.catalog import load_catalog
from hr_dataverse.quality.runner import run_and_report
from hr_dataverse.quality.settings import QualitySettings
from hr_dataverse.quality.severity import KINDS


def test_every_check_passes_on_clean_emulator_data(clean_scenario: Scenario) -> None:
    run = clean_scenario.run
    assert run.status == "passed" and not run.has_errors and not run.has_warnings
    assert run.failures() == []
    assert all(c.success and c.error is None for c in run.checks)
    # Every kind of check ran (the URS mapping one needs the mapping state, see test_mapping.py) ...
    assert {c.kind for c in run.checks} == set(KINDS) - {"mapping"}
    # ... on every catalog table the app may read; personal details are withheld by the emulator's
    # default security role, and an optional table that never loaded is only noted.
    readable = [t.name for t in load_catalog() if t.name != "cdm_workerpersonaldetail"]
    assert [t.table for t in run.tables()] == readable
    assert all(t.evaluated >= 4 for t in run.tables())
    assert any(n.startswith("cdm_workerpersonaldetail: was never loaded") for n in run.notes)
    assert any(n.startswith("mapping: _hr_urs_mapping does not exist") for n in run.notes)
    # The option sets were read from the emulator's metadata and used.
    gender = clean_scenario.check("cdm_worker.option_domain.cdm_gender")
    assert gender.expected == clean_scenario.domains["cdm_worker"]["cdm_gender"] and len(gender.expected) == 4


def test_clean_run_writes_summary_data_docs_and_history(clean_scenario: Scenario) -> None:
    root, run, paths = clean_scenario.root, clean_scenario.run, clean_scenario.paths
    assert paths.html == root / "runs" / "clean-1" / "summary.html"
    body = json.loads(paths.json.read_text(encoding="utf-8"))
    assert body["status"] == "passed" and body["totals"] == run.totals()
    assert {t["table"] for t in body["tables"]} == {t.table for t in run.tables()}
    assert (root / "latest" / "summary.json").read_text(encoding="utf-8").count('"run_id": "clean-1"') == 1
    text = page_text(paths.html.read_text(encoding="utf-8"))
    assert "Every check passed." in text and "Passed" in text
    # Data Docs: the index and one validation page per table and check group, all inside the root.
    assert (root / body["data_docs"]).is_file()
    for table, pages in body["validation_pages"].items():
        assert pages and all((root / p).is_file() for p in pages.values()), table
    assert body["links"]["data_docs"] == "../../docs/index.html"
    history = json.loads((root / "history.json").read_text(encoding="utf-8"))
    assert [e["run_id"] for e in history] == ["clean-1"]


def test_later_runs_keep_history_and_show_the_trend(clean_scenario: Scenario) -> None:
    settings = QualitySettings(quality_dir=clean_scenario.root, option_domains=clean_scenario.domains,
                               severity={"cdm_job.has_values": "off"})
    run, paths = run_and_report(clean_scenario.url, settings=settings, run_id="clean-2", tables=["cdm_job"])
    assert run.status == "passed" and [t.table for t in run.tables()] == ["cdm_job"]
    root = clean_scenario.root
    history = json.loads((root / "history.json").read_text(encoding="utf-8"))
    assert [e["run_id"] for e in history] == ["clean-1", "clean-2"]
    body = json.loads(paths.json.read_text(encoding="utf-8"))
    assert body["trend"]["cdm_job"] == {"failed": [0, 0], "verdict": "unchanged"}
    # Both runs stay browsable: their summaries, their Data Docs pages, and the runs index.
    assert (root / "runs" / "clean-1" / "summary.html").is_file() and paths.html.is_file()
    assert sorted(p.name for p in (root / "docs" / "validations" / "cdm_job").glob("clean-*")) == ["clean-1", "clean-2"]
    index = page_text((root / "index.html").read_text(encoding="utf-8"))
    assert index.index("clean-2") < index.index("clean-1")  # newest first
    assert json.loads((root / "latest" / "summary.json").read_text(encoding="utf-8"))["run_id"] == "clean-2"


def test_gx_gets_the_warehouse_url_without_the_project_file_or_the_process_environment(
        clean_scenario: Scenario) -> None:
    import os

    from hr_dataverse.quality.runner import WAREHOUSE_URL_VAR

    project = (clean_scenario.root / "gx" / "great_expectations.yml").read_text(encoding="utf-8")
    assert f"${{{WAREHOUSE_URL_VAR}}}" in project and "warehouse.db" not in project
    assert WAREHOUSE_URL_VAR not in os.environ
