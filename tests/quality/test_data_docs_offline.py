"""GX Data Docs render with no internet access (vendored scripts and styles), and the quality trend
is drawn as charts: headless Chromium with every host but none blocked, screenshots in tests/artifacts/."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from quality_helpers import Scenario, page_text
from shared_helpers import find_chromium

from hr_dataverse.quality.offline_docs import CDN_FILES, GX_IMAGES, VENDOR_DIR, make_offline

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def render(page: Path, tmp_path: Path, screenshot: str) -> str:
    chromium = find_chromium()  # fails under CI when missing, like the other browser tests
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND",  # offline
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600", "--virtual-time-budget=8000",
         f"--screenshot={shot}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("defect_scenario", ["sqlite"], indirect=True)
def test_data_docs_index_renders_offline(defect_scenario: Scenario, tmp_path: Path) -> None:
    docs = defect_scenario.root / "docs"
    pages = [*docs.rglob("*.html"), *docs.rglob("*.css")]
    leftover = [p for p in pages if VENDOR_DIR not in str(p)
                and any(url in p.read_text() for url in [*CDN_FILES, GX_IMAGES])]
    assert leftover == []  # every CDN reference points at the vendored copy
    assert make_offline(docs) == 0  # idempotent: a second pass has nothing to rewrite
    dom = render(docs / "index.html", tmp_path, "quality-data-docs-offline.png")
    # The index table is built by jQuery + bootstrap-table: its rows exist only when the scripts ran.
    assert 'class="bootstrap-table' in dom
    listed = sum(len(p) for p in defect_scenario.run.validation_pages.values())
    assert f"Showing 1 to 10 of {listed} rows" in page_text(dom)  # bootstrap-table's pager, from the data
    assert re.search(r'<i class="fas fa-check-circle', dom)  # Font Awesome status icons
    assert (docs / VENDOR_DIR / "fontawesome-6.6.0/webfonts/fa-solid-900.woff2").is_file()


@pytest.mark.parametrize("defect_scenario", ["sqlite"], indirect=True)
def test_quality_trend_is_a_chart(defect_scenario: Scenario, tmp_path: Path) -> None:
    root = defect_scenario.root
    index = render(root / "index.html", tmp_path, "quality-trend.png")
    chart = re.search(r'<svg id="dq-trend".*?</svg>', index, re.S)
    assert chart and 'data-series="errors"' in chart.group(0)
    summary = render(root / "latest" / "summary.html", tmp_path, "quality-summary-trend.png")
    assert re.search(r'<svg class="spark"[^>]*aria-label="failed checks per run: \d', summary)
    assert "HR data quality" in page_text(summary)
