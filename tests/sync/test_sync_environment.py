"""Environment changes and readable names: a delta link stored for another host is never followed
(full resync with a warning naming both hosts), and renamed lookup targets update the dependent
``<lookup>_name`` columns in the same run, by delta and by full load (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sync_helpers import mismatches

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync import sync_table

COMPANY, EMPLOYMENT = "cdm_company", "cdm_employment"


def test_a_delta_link_on_another_host_triggers_a_full_resync_with_a_warning(emulator, make_client, warehouses):
    app, wh = emulator.app, warehouses.open()
    spec = load_catalog().get("cdm_worker")
    first_url = emulator.info["dataverse_url"]
    assert "127.0.0.1" in first_url
    sync_table(make_client(emulator), wh, spec, run_id="run-1")
    old_link = wh.get_state(spec.name).delta_link
    assert old_link.startswith(first_url)
    gone = next(iter(app.store.iter_rows(spec.name)))[spec.primary_key]
    app.store.delete(spec.name, gone)  # reconciliation must find it

    moved_url = first_url.replace("127.0.0.1", "localhost")  # the org URL moved (same environment)
    moved = make_client(emulator, environment_url=moved_url)
    app.request_log.clear()
    result = sync_table(moved, wh, spec, run_id="run-2")

    assert (result.mode_used, result.status, result.rows_deleted) == ("full", "warning", 1)
    old_host, new_host = first_url.split("/")[2], moved_url.split("/")[2]
    assert result.reason == f"full resync: the environment host changed from {old_host} to {new_host}"
    [warning] = result.warnings
    assert old_host in warning and new_host in warning and "not followed" in warning
    assert not any("$deltatoken" in e.path or "deltatoken" in (e.query or "") for e in app.request_log.entries())
    assert wh.get_state(spec.name).delta_link.startswith(moved_url)
    assert mismatches(app, wh, spec) == []
    again = sync_table(moved, wh, spec, run_id="run-3")  # the new link is followed from now on
    assert (again.mode_used, again.status) == ("delta", "success")


def employment_names(wh: Any) -> dict[str, str | None]:
    table = wh.table(EMPLOYMENT)
    with wh.engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.cdm_employmentid, table.c.cdm_companyid_name)).all()
    return {str(k): v for k, v in rows}


@pytest.mark.parametrize("order", ["target_first", "dependent_first"])
@pytest.mark.parametrize("mode", ["auto", "full"])
def test_renamed_companies_update_employment_names_in_the_same_run(emulator, client, warehouses, mode, order):
    app, wh = emulator.app, warehouses.open()
    catalog = load_catalog()
    tables = [COMPANY, EMPLOYMENT] if order == "target_first" else [EMPLOYMENT, COMPANY]
    for name in tables:
        sync_table(client, wh, catalog.get(name), run_id="run-1")
    companies = sorted(app.store.iter_rows(COMPANY), key=lambda r: r["cdm_companycode"])[:4]
    for company in companies:
        app.store.update(COMPANY, company["cdm_companyid"], {"cdm_name": f"{company['cdm_name']} (renamed)"})
    renamed = {c["cdm_companyid"] for c in companies}
    affected = {str(r["cdm_employmentid"]) for r in app.store.iter_rows(EMPLOYMENT) if r.get("cdm_companyid") in renamed}
    assert affected, "the seeded data must have employments at the renamed companies"

    # The companies load by delta or in full; employments by delta (none of them changed in Dataverse).
    results = {name: sync_table(client, wh, catalog.get(name), run_id="run-2",
                                mode=mode if name == COMPANY else "auto") for name in tables}

    assert results[COMPANY].rows_upserted == (4 if mode == "auto" else app.store.count(COMPANY))
    assert (results[EMPLOYMENT].mode_used, results[EMPLOYMENT].rows_upserted) == ("delta", 0)
    names = employment_names(wh)
    assert all(names[e].endswith(" (renamed)") for e in affected)
    assert mismatches(app, wh, catalog.get(EMPLOYMENT)) == []
    assert mismatches(app, wh, catalog.get(COMPANY)) == []
