"""A catalog entry with only a name lands every readable column, typed from Dataverse metadata; the
rules it derives (required columns, lookups → references) are stored for the quality checks;
``exclude_columns`` leaves columns out; the virtual / logical / internal attribute rule holds."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa
from sync_helpers import mismatches

from hr_dataverse.catalog import parse_catalog
from hr_dataverse.catalog_metadata import landed, resolve_spec
from hr_dataverse.sync import sync_table
from hr_dataverse.warehouse.table_rules import load_table_rules

NEVER_LISTED = "cdm_payrollearningcode"  # in the emulator, in no catalog


def entry(**fields):
    return parse_catalog({"tables": [fields]}, Path("test.yaml")).tables[0]


def test_a_name_only_entry_lands_every_readable_column_typed_from_metadata(emulator, client, warehouses):
    app, wh = emulator.app, warehouses.open()
    spec = entry(name=NEVER_LISTED)
    assert spec.columns == () and spec.primary_key == f"{NEVER_LISTED}id"

    result = sync_table(client, wh, spec, run_id="run-1")

    assert result.status == "success" and result.rows_total == app.store.count(NEVER_LISTED) > 0
    source = app.schema[NEVER_LISTED]
    columns = {c["name"]: c["type"] for c in sa.inspect(wh.engine).get_columns(NEVER_LISTED, schema=wh.schema)}
    for attr in source.attributes.values():  # every emulated column, with its companion
        assert source.wire_name(attr) in columns
    assert {"cdm_companyid_name", "statecode_label", "statuscode_label"} <= set(columns)
    types = {name: str(t).upper() for name, t in columns.items()}
    assert "INT" in types["statecode"] and "BIGINT" in types["versionnumber"]
    assert any(k in types["createdon"] for k in ("TIMESTAMP", "DATETIME"))
    assert mismatches(app, wh, spec) == []
    rules = load_table_rules(wh)[NEVER_LISTED]
    assert {f"{NEVER_LISTED}id", "cdm_name", "statecode"} <= set(rules.required)
    assert "cdm_description" not in rules.required
    assert rules.references == (("_cdm_companyid_value", "cdm_company"),)

    # Drift keeps working: a second run is a delta with nothing to do; no rules rewritten.
    again = sync_table(client, wh, spec, run_id="run-2")
    assert again.mode_used == "delta" and again.rows_upserted == 0


def test_exclude_columns_leaves_them_out(emulator, client, sqlite_warehouses):
    wh = sqlite_warehouses.open()
    spec = entry(name="cdm_leaverequest", exclude_columns=["cdm_comment", "_cdm_companyid_value"])
    sync_table(client, wh, spec, run_id="run-1")
    columns = {c["name"] for c in sa.inspect(wh.engine).get_columns("cdm_leaverequest")}
    assert "cdm_comment" not in columns and "_cdm_companyid_value" not in columns
    assert {"_cdm_workerid_value", "cdm_workerid_name", "cdm_status", "cdm_status_label"} <= columns
    assert mismatches(emulator.app, wh, spec) == []


def _attr(name, kind="String", **kw):
    return SimpleNamespace(logical_name=name, attribute_type=kind, is_valid_for_read=kw.get("read", True),
                           attribute_of=kw.get("of"), is_logical=kw.get("logical", False),
                           type_name=kw.get("type_name"), required_level=kw.get("level", "None"),
                           targets=kw.get("targets"), options=None)


def test_virtual_logical_and_internal_attributes_are_not_landed():
    attrs = [
        _attr("x_thingid", "Uniqueidentifier", level="SystemRequired"),
        _attr("x_name", level="ApplicationRequired"),
        _attr("x_ownerid", "Owner", targets=("systemuser", "team")),
        _attr("x_ownerid_name", of="x_ownerid", logical=True),  # a lookup's name companion
        _attr("x_owneridtype", "EntityName", of="x_ownerid"),
        _attr("x_parentid", "Lookup", targets=("x_thing",)),
        _attr("x_parentidyominame", of="x_parentid"),
        _attr("x_fullimage", "Virtual", type_name="ImageType"),
        _attr("x_tags", "Virtual", type_name="MultiSelectPicklistType"),
        _attr("x_calendar", "CalendarRules"),
        _attr("importsequencenumber", "Integer"),
        _attr("overriddencreatedon", "DateTime"),
        _attr("x_secret", read=False),
        _attr("x_kind", "Picklist"),
        _attr("x_flag", "Boolean"),
    ]
    assert [a.logical_name for a in attrs if landed(a)] == [
        "x_thingid", "x_name", "x_ownerid", "x_parentid", "x_tags", "x_kind", "x_flag"]
    entity = SimpleNamespace(primary_id="x_thingid", attributes={a.logical_name: a for a in attrs})
    spec = resolve_spec(entry(name="x_thing", exclude_columns=["x_flag"]), entity)
    assert spec.columns == ("x_thingid", "x_kind", "x_name", "_x_ownerid_value", "_x_parentid_value", "x_tags")
    assert spec.required_columns == ("x_thingid", "x_name")
    assert spec.lookups == ("x_ownerid", "x_parentid") and spec.option_sets == ("x_kind",)
    assert spec.references == (("_x_parentid_value", "x_thing"),)  # polymorphic owner: no single parent


def test_a_tenant_without_the_table_fails_only_that_optional_table(emulator_factory, make_client, sqlite_warehouses):
    from hr_dataverse.dataverse import NotFound

    emu = emulator_factory(coverage_tables=False)
    client = make_client(emu)
    spec = entry(name="cdm_leaverequest", required=False)
    try:
        sync_table(client, sqlite_warehouses.open(), spec, run_id="run-1")
    except NotFound as exc:
        assert "cdm_leaverequest" in str(exc)
    else:
        raise AssertionError("a missing table must raise NotFound (the task turns it into a warning when optional)")


def test_drift_keeps_working_for_a_name_only_entry(emulator, client, sqlite_warehouses):
    """A column added in Dataverse lands without a catalog change; one removed is kept, null, with a warning."""
    from dataverse_emulator.schema import _s

    app, wh = emulator.app, sqlite_warehouses.open()
    spec = entry(name="cdm_leavetype")
    sync_table(client, wh, spec, run_id="run-1")
    table = app.schema["cdm_leavetype"]
    table.attributes["cdm_externalcode"] = _s("cdm_externalcode")
    del table.attributes["cdm_description"]
    table.__post_init__()  # rebuild the wire-name index
    for row in list(app.store.iter_rows("cdm_leavetype")):
        app.store.update("cdm_leavetype", row["cdm_leavetypeid"], {"cdm_externalcode": f"X-{row['cdm_type']}"})

    result = sync_table(client, wh, spec, run_id="run-2")

    assert result.mode_used == "full" and result.status == "warning"
    assert any("'cdm_description' is no longer delivered" in w for w in result.warnings)
    target = wh.table("cdm_leavetype")
    with wh.engine.connect() as conn:
        rows = conn.execute(sa.select(target.c.cdm_externalcode, target.c.cdm_description)).all()
    assert rows and all(code and code.startswith("X-") and description is None for code, description in rows)
