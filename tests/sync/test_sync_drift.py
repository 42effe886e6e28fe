"""Schema drift seen in the metadata on every run, and clear errors for bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa
from sync_helpers import mismatches, warehouse_rows

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import SyncError, UnknownColumnError, sync_table
from hr_dataverse.warehouse import SchemaDriftError

TABLE = "cdm_job"


def _change_source_schema(app, table: str, column: str, attribute=None) -> None:
    """Replace (or with None remove) a column in the emulator's table definition."""
    tdef = app.schema[table]
    if attribute is None:
        del tdef.attributes[column]
    else:
        tdef.attributes[column] = attribute
    tdef.__post_init__()  # rebuild the wire-name index


def test_new_catalog_column_is_added_and_filled_by_a_full_reload(emulator, client, sqlite_warehouses):
    wh = sqlite_warehouses.open()
    spec = load_catalog().get(TABLE)
    narrow = replace(spec, columns=tuple(c for c in spec.columns if c != "cdm_description"))
    sync_table(client, wh, narrow, run_id="run-1")
    result = sync_table(client, wh, spec, run_id="run-2")
    assert result.mode_used == "full" and "cdm_description" in result.reason and result.delta_link_stored
    assert mismatches(emulator.app, wh, spec) == []
    assert sync_table(client, wh, spec, run_id="run-3").mode_used == "delta"


def test_column_removed_from_the_source_is_kept_and_goes_null_with_a_warning(emulator, client, sqlite_warehouses):
    app, wh = emulator.app, sqlite_warehouses.open()
    spec = load_catalog().get(TABLE)
    sync_table(client, wh, spec, run_id="run-1")
    assert any(r["cdm_description"] for r in warehouse_rows(wh, spec).values())
    _change_source_schema(app, TABLE, "cdm_description")

    result = sync_table(client, wh, spec, run_id="run-2")
    assert result.mode_used == "full" and "column selection changed" in result.reason
    assert result.status == "warning" and "'cdm_description' is no longer delivered" in result.warnings[0]
    rows = warehouse_rows(wh, spec)
    assert rows and all(r["cdm_description"] is None for r in rows.values())
    remaining = replace(spec, columns=tuple(c for c in spec.columns if c != "cdm_description"))
    assert mismatches(app, wh, remaining) == []
    again = sync_table(client, wh, spec, run_id="run-3")
    assert again.mode_used == "delta" and len(again.warnings) == 1


def test_incompatible_type_change_fails_that_table_only(emulator, client, sqlite_warehouses):
    app, wh = emulator.app, sqlite_warehouses.open()
    catalog = load_catalog()
    sync_table(client, wh, catalog.get(TABLE), run_id="run-1")
    sync_table(client, wh, catalog.get("cdm_company"), run_id="run-1")
    state = wh.get_state(TABLE)
    column = app.schema[TABLE].attributes["cdm_maximumnumberofpositions"]
    _change_source_schema(app, TABLE, column.logical_name, replace(column, attribute_type="String"))

    with pytest.raises(SchemaDriftError, match="table 'cdm_job', column 'cdm_maximumnumberofpositions': type "
                                               "changed from integer to text") as err:
        sync_table(client, wh, catalog.get(TABLE), run_id="run-2")
    assert err.value.column == "cdm_maximumnumberofpositions"
    assert wh.get_state(TABLE).delta_link == state.delta_link
    assert [(r.run_id, r.status) for r in wh.runs(table=TABLE)] == [("run-1", "success"), ("run-2", "failed")]
    assert sync_table(client, wh, catalog.get("cdm_company"), run_id="run-2").mode_used == "delta"


def test_unknown_catalog_column_is_an_error_naming_table_and_column(emulator, client, sqlite_warehouses):
    wh = sqlite_warehouses.open()
    spec = load_catalog().get(TABLE)
    bad = replace(spec, columns=(*spec.columns, "cdm_nosuchcolumn"))
    with pytest.raises(UnknownColumnError, match="table 'cdm_job': catalog column.* 'cdm_nosuchcolumn' do not exist"):
        sync_table(client, wh, bad, run_id="run-1")
    with wh.engine.connect() as conn:
        assert not sa.inspect(conn).has_table(wh.table_name(TABLE))


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "sometimes"}, "unknown sync mode 'sometimes'"),
    ({"page_size": 0}, "page_size must be between 1 and 5000, got 0"),
    ({"page_size": 5001}, "page_size must be between 1 and 5000"),
    ({"run_id": ""}, "run_id must not be empty"),
])
def test_bad_arguments_are_refused_before_any_request(emulator, client, sqlite_warehouses, options, message):
    requests = client.stats.requests
    with pytest.raises(SyncError, match=f"table 'cdm_job': {message}"):
        sync_table(client, sqlite_warehouses.open(), load_catalog().get(TABLE), **{"run_id": "run-1", **options})
    assert client.stats.requests == requests
