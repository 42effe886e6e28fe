"""Entity catalog: the default file, validation messages, custom file via env var, and the default
catalog checked against the emulator's table definitions (real Dataverse names)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.schema import LOOKUP, OPTION_TYPES, build_schema, hr_tables
from dataverse_emulator.schema_coverage import COVERAGE_TABLES
from hr_dataverse.catalog import CatalogError, load_catalog
from hr_dataverse.warehouse import SchemaDriftError, WarehouseError, columns_for

GOOD = {"name": "cdm_worker", "primary_key": "cdm_workerid", "columns": ["cdm_workerid", "cdm_workernumber"]}


def write(tmp_path: Path, data: object, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def problems(tmp_path: Path, *tables: dict) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalog(write(tmp_path, {"tables": list(tables)}))
    return info.value.problems


def test_default_catalog_is_the_hr_core_set_in_load_order() -> None:
    catalog = load_catalog()
    core = [t.name for t in catalog.tables if t.columns]
    assert core == hr_tables("mshr_")  # the emulator's parents-first order
    optional = [t.name for t in catalog.tables if not t.required]
    # Compensation, benefits and leave: optional, columns from metadata, each table after its parents.
    coverage = [t.name for t in catalog.tables if not t.columns and not t.fno_entity]
    assert optional == ["cdm_workerpersonaldetail", *coverage, "fno_benefitsplanemployees"]
    assert coverage == [n for n in COVERAGE_TABLES if n in coverage] and len(coverage) == 20
    assert {catalog.get(n).category for n in coverage} == {"compensation", "benefits", "leave_and_absence"}
    worker = catalog.get("cdm_worker")
    assert worker.primary_key == "cdm_workerid" and worker.option_sets == ("cdm_type", "cdm_status", "cdm_gender")
    assert catalog.get("cdm_employment").lookups == ("cdm_workerid", "cdm_companyid")
    assert "_cdm_workerid_value" in catalog.get("cdm_employment").select.split(",")
    assert "cdm_worker" in catalog and "account" not in catalog


def test_default_catalog_matches_emulator_metadata() -> None:
    """Every catalog column, lookup and option set exists with the right type in the emulator schema."""
    schema = build_schema(EmulatorConfig())
    for spec in load_catalog():
        if spec.from_metadata or spec.fno_entity:
            assert spec.name in schema or spec.fno_entity, spec.name  # the emulator serves it
            continue
        table = schema[spec.name]
        entity = SimpleNamespace(
            logical_name=table.logical_name, primary_id=table.primary_id,
            attributes={n: SimpleNamespace(logical_name=n, attribute_type=a.attribute_type, options=a.options,
                                           date_only=a.date_only)
                        for n, a in table.attributes.items()})
        selection = columns_for(spec, entity)
        assert selection.missing == [], spec.name
        assert {c.name for c in selection.columns} == set(spec.columns)
        for lookup in spec.lookups:
            assert table.attributes[lookup].attribute_type == LOOKUP, (spec.name, lookup)
        for col in spec.option_sets:
            assert table.attributes[col].attribute_type in OPTION_TYPES, (spec.name, col)
        assert set(spec.required_columns) <= set(spec.columns)


def test_empty_column_list_is_named(tmp_path: Path) -> None:
    assert problems(tmp_path, {**GOOD, "columns": []}) == [
        "catalog.yaml: table 'cdm_worker': column list is empty (leave 'columns' out to take every readable "
        "column from metadata)"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"colums": ["x"]}, "table 'cdm_worker': unknown field(s) colums (allowed: category, columns, entity_set, "
                        "exclude_columns, fno_entity, fno_keys, lookups, name, option_sets, partition_by_key, "
                        "primary_key, required, required_columns)"),
    ({"primary_key": "cdm_id"}, "table 'cdm_worker': primary key 'cdm_id' is not in columns"),
    ({"required_columns": ["cdm_x"]}, "table 'cdm_worker': required column 'cdm_x' is not in columns"),
    ({"lookups": ["cdm_companyid"]}, "table 'cdm_worker': lookup 'cdm_companyid' needs '_cdm_companyid_value' in columns"),
    ({"option_sets": ["cdm_type"]}, "table 'cdm_worker': option set 'cdm_type' is not in columns"),
    ({"required": "yes"}, "table 'cdm_worker': 'required' must be true, false or 'mapping', got 'yes'"),
    ({"partition_by_key": 1}, "table 'cdm_worker': 'partition_by_key' must be true or false, got 1"),
    ({"columns": ["cdm_workerid", "cdm_workerid"]}, "table 'cdm_worker': 'columns' lists 'cdm_workerid' twice"),
    ({"columns": ["cdm_workerid", "Bad Name"]}, "table 'cdm_worker': 'columns' has an invalid name 'Bad Name'"),
    ({"entity_set": 5}, "table 'cdm_worker': 'entity_set' must be an entity set name or left out, got 5"),
    ({"columns": ["cdm_workerid", "cdm_type", "cdm_type_label"], "option_sets": ["cdm_type"]},
     "table 'cdm_worker': column 'cdm_type_label' clashes with the derived column of the same name"),
])
def test_invalid_fields_are_named(tmp_path: Path, change: dict, expected: str) -> None:
    assert f"catalog.yaml: {expected}" in problems(tmp_path, {**GOOD, **change})


def test_every_bad_entry_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD, {**GOOD, "name": "cdm_job", "columns": None}, GOOD, {"name": "Bad"}, "text")
    assert found == [
        "catalog.yaml: table 'cdm_job': column list is empty (leave 'columns' out to take every readable column "
        "from metadata)",
        "catalog.yaml: table 'cdm_worker': listed twice",
        "catalog.yaml: table #4: 'name' must be a lower-case Dataverse logical name of at most 50 characters, "
        "got 'Bad'",
        "catalog.yaml: table #5: expected a mapping, got str",
    ]


def test_lookup_given_by_wire_name_is_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, {"tables": [{**GOOD, "columns": [*GOOD["columns"], "_cdm_companyid_value"],
                                        "lookups": ["_cdm_companyid_value"]}]})
    assert load_catalog(path).get("cdm_worker").lookups == ("cdm_companyid",)


@pytest.mark.parametrize(("content", "expected"), [
    ("tables: [\n  {name: x\n", "catalog.yaml: not valid YAML at line 3, column 1"),
    ("tables: []\n", "catalog.yaml: expected a mapping with a non-empty 'tables' list"),
    ("- a\n", "catalog.yaml: expected a mapping with a non-empty 'tables' list"),
])
def test_unreadable_files(tmp_path: Path, content: str, expected: str) -> None:
    with pytest.raises(CatalogError) as info:
        load_catalog(write(tmp_path, content))
    assert str(info.value).startswith(expected)


def test_missing_file_and_unknown_table(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read the catalog"):
        load_catalog(tmp_path / "nope.yaml")
    with pytest.raises(CatalogError, match="unknown table 'account'; the catalog has: cdm_company"):
        load_catalog().get("account")


def test_a_custom_catalog_file(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, {"tables": [GOOD]}, "custom.yaml"))
    assert catalog.names() == ["cdm_worker"] and catalog.source.name == "custom.yaml"
    assert catalog.get("cdm_worker").required is True  # tables are required unless marked otherwise


def test_columns_for_reports_missing_columns() -> None:
    spec = load_catalog().get("cdm_company")
    attrs = {"cdm_companyid": "Uniqueidentifier", "cdm_name": "String", "cdm_companycode": "String",
             "statecode": "State", "statuscode": "Status", "createdon": "DateTime", "modifiedon": "DateTime"}
    entity = SimpleNamespace(logical_name="cdm_company", primary_id="cdm_companyid", attributes={
        n: SimpleNamespace(logical_name=n, attribute_type=t, options=None) for n, t in attrs.items()})
    selection = columns_for(spec, entity)
    assert selection.missing == ["versionnumber"]  # optional: left out of $select, kept in the warehouse
    assert "versionnumber" not in selection.select
    del entity.attributes["cdm_companycode"]
    with pytest.raises(SchemaDriftError, match="table 'cdm_company', column 'cdm_companycode': required column"):
        columns_for(spec, entity)
    entity.primary_id = "companyid"
    with pytest.raises(WarehouseError, match="primary key 'cdm_companyid' is not the Dataverse primary id"):
        columns_for(spec, entity)
