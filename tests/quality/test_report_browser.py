"""The reports in a real browser: headless Chromium (Debian's ``chromium``; ``make test`` installs it)
renders the summary and the GX Data Docs of the run with every defect; the tests read the rendered
DOM. Screenshots are kept under tests/artifacts/ (git-ignored). Network access is blocked: Data
Docs load their scripts from CDNs, so their index lists runs from its embedded data, and the
per-table validation pages (rendered without scripts) show the counts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from quality_helpers import Scenario, page_text
from shared_helpers import find_chromium

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


def render(chromium: str, page: Path, tmp_path: Path, screenshot: str) -> str:
    """The DOM after Chromium loaded ``page``; a full-page screenshot goes to tests/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot
    shot.unlink(missing_ok=True)
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND",  # offline, and failing fast
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,2200",
         f"--screenshot={shot}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 10_000, "no screenshot written"
    return result.stdout


@pytest.mark.parametrize("defect_scenario", ["sqlite"], indirect=True)
def test_summary_renders_tables_and_failure_counts(chromium: str, defect_scenario: Scenario, tmp_path: Path) -> None:
    run, paths = defect_scenario.run, defect_scenario.paths
    dom = render(chromium, paths.html, tmp_path, "quality-summary.png")
    assert re.search(r'<html lang="en"', dom) and "<title>HR data quality: Failed" in dom
    totals = run.totals()
    for key in ("evaluated", "passed", "errors", "warnings", "unexpected"):
        assert re.search(rf'id="total-{key}">{totals[key]}<', dom), key
    # Every checked table has its row, with its failed-check count.
    for table in run.tables():
        row = re.search(rf'<tr id="table-{table.table}">(.*?)</tr>', dom, flags=re.S)
        assert row, table.table
        cells = re.findall(r'<td class="num">(\d+)</td>', row.group(1))
        assert [int(c) for c in cells] == [table.passed, table.failed, table.errors, table.warnings, table.unexpected]
    # Every failed check has its row naming table, column and count.
    text = page_text(dom)
    assert "6 failed check(s), errors first" in text
    for check in run.failures():
        row = page_text(re.search(rf'<tr id="check-{re.escape(check.id)}">(.*?)</tr>', dom, flags=re.S).group(1))
        assert check.table in row and str(check.unexpected_count) in row and check.message in row
    assert "<script" not in dom  # self-contained, no scripts


@pytest.mark.parametrize("defect_scenario", ["sqlite"], indirect=True)
def test_data_docs_render_the_run(chromium: str, defect_scenario: Scenario, tmp_path: Path) -> None:
    root, run = defect_scenario.root, defect_scenario.run
    index = render(chromium, root / "docs" / "index.html", tmp_path, "quality-data-docs-index.png")
    assert "Data Docs | hr_quality" in page_text(index) and "Validation Results" in page_text(index)
    for table, pages in run.validation_pages.items():
        for page in pages.values():
            assert page.removeprefix("docs/") in index, f"{table}: {page} not listed in the Data Docs index"
    # The validation page of cdm_worker's column checks, as the summary links it.
    page = root / run.validation_pages["cdm_worker"]["columns"]
    text = page_text(render(chromium, page, tmp_path, "quality-data-docs-cdm_worker.png"))
    failed = [c for c in run.checks if c.table == "cdm_worker" and not c.success and c.kind in ("unique",
                                                                                               "option_domain")]
    evaluated = sum(1 for c in run.checks if c.table == "cdm_worker" and c.kind in (
        "completeness", "not_null", "unique", "option_domain"))
    assert "cdm_worker" in text and "Status: Failed" in text
    assert f"Evaluated Expectations {evaluated}" in text
    assert f"Unsuccessful Expectations {len(failed)}" in text
    assert "4 unexpected values found" in text  # the duplicated worker number
