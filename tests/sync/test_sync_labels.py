"""Choice labels: read from the rows' FormattedValue annotations; the option-set metadata is asked for
only when a row lacks its annotation (the emulator's request log shows which requests were made)."""

from __future__ import annotations

from sync_helpers import expected_rows, mismatches, warehouse_rows

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import sync_table
from hr_dataverse.sync.prepare import prepare_table

TABLE = "cdm_worker"  # option sets cdm_type, cdm_status, cdm_gender (Picklist)


def _label_requests(emulator) -> list[str]:
    return [e.path for e in emulator.app.request_log.entries() if e.path.endswith("AttributeMetadata")]


def test_sync_stores_labels_without_asking_for_option_sets(emulator, client, sqlite_warehouses):
    spec = load_catalog().get(TABLE)
    wh = sqlite_warehouses.open()
    emulator.app.request_log.clear()
    sync_table(client, wh, spec, run_id="run-1")
    assert mismatches(emulator.app, wh, spec) == []  # labels included
    assert _label_requests(emulator) == []


def test_rows_without_formatted_values_get_labels_from_one_metadata_request(emulator, client, sqlite_warehouses):
    spec = load_catalog().get(TABLE)
    wh = sqlite_warehouses.open()
    prepared = prepare_table(client, wh, spec)
    # Rows as Dataverse sends them without the FormattedValue preference.
    rows = client.request("GET", prepared.entity_set, params={"$select": ",".join(prepared.select)}).data["value"]
    assert rows and not any("@OData.Community.Display.V1.FormattedValue" in k for r in rows for k in r)
    emulator.app.request_log.clear()
    with wh.begin_load(TABLE, "run-1", "full") as load:
        load.stage_rows(rows)
        load.commit(source_count=len(rows), reconcile_deletes=True)
    assert _label_requests(emulator) == [
        f"/api/data/v9.2/EntityDefinitions(LogicalName='{TABLE}')/Attributes/Microsoft.Dynamics.CRM."
        "PicklistAttributeMetadata"]
    expected = expected_rows(emulator.app, spec)
    stored = warehouse_rows(wh, spec)
    labels = [c + "_label" for c in spec.option_sets]
    assert any(expected[k][c] is not None for k in expected for c in labels)
    assert {k: {c: r[c] for c in labels} for k, r in stored.items()} == \
           {k: {c: r[c] for c in labels} for k, r in expected.items()}
