"""The deployment's environment variables, resolved at the edge (``dataverse_provider.environment``)
and passed to the core, which reads none: names, defaults and refusals as the README documents them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataverse_provider import environment as env
from hr_dataverse.catalog import DEFAULT_CATALOG


def test_warehouse_url_is_the_variable_else_the_checkout_sqlite_file(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.delenv(env.WAREHOUSE_URL_ENV, raising=False)
    assert env.warehouse_url().endswith("/data/hr_warehouse.db") and env.warehouse_url().startswith("sqlite:///")
    monkeypatch.setenv(env.WAREHOUSE_URL_ENV, f"sqlite:///{tmp_path}/x.db")
    assert env.warehouse_url() == f"sqlite:///{tmp_path}/x.db"


def test_catalog_variable_points_at_a_custom_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(env.CATALOG_ENV, raising=False)
    assert env.catalog_file() == DEFAULT_CATALOG
    custom = tmp_path / "custom.yaml"
    custom.write_text("tables:\n  - {name: cdm_worker, entity_set: cdm_workers, primary_key: cdm_workerid,"
                      " category: worker}\n")
    monkeypatch.setenv(env.CATALOG_ENV, str(custom))
    catalog = env.configured_catalog()
    assert catalog.names() == ["cdm_worker"] and catalog.source.name == "custom.yaml"
    assert env.catalog_names() == ["cdm_worker"] and env.parsed_catalog().categories() == ["worker"]
    custom.write_text("tables: []\n")  # unreadable at parse time: no names, the DAG files still load
    assert env.catalog_names() == []


def test_report_folders_are_the_variables_else_the_checkout_reports(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.delenv(env.QUALITY_DIR_ENV, raising=False)
    monkeypatch.delenv(env.REPORTS_ENV, raising=False)
    assert env.quality_dir().parts[-2:] == ("reports", "quality")
    assert env.reports_dir() == env.quality_dir().parent
    monkeypatch.setenv(env.QUALITY_DIR_ENV, str(tmp_path / "q"))
    monkeypatch.setenv(env.REPORTS_ENV, str(tmp_path / "r"))
    assert (env.quality_dir(), env.reports_dir()) == (tmp_path / "q", tmp_path / "r")
    assert env.quality_dir(tmp_path / "other") == tmp_path / "other"


@pytest.mark.parametrize(("raw", "expected"), [("", True), ("1", True), ("on", True), ("0", False),
                                               ("False", False)])
def test_baseline_overlap_flag(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv(env.BASELINE_OVERLAP_ENV, raw)
    assert env.baseline_overlap() is expected


def test_a_bad_overlap_setting_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.BASELINE_OVERLAP_ENV, "maybe")
    with pytest.raises(ValueError, match="HR_DATAVERSE_BASELINE_OVERLAP must be 1 or 0"):
        env.baseline_overlap()
