"""Paging and counts against the emulator: every row exactly once, nextLinks followed verbatim."""

from __future__ import annotations

import math
from typing import Any

from hr_dataverse.dataverse import DataverseClient, count, iter_pages, odata, total_record_count


def test_next_link_paging_returns_every_row_once(client: DataverseClient, emulator: Any) -> None:
    table = emulator.app.schema["cdm_worker"]
    expected = {r[table.primary_id] for r in emulator.app.store.iter_rows("cdm_worker")}
    pages = list(iter_pages(client, table.entity_set_name, select=[table.primary_id, table.primary_name],
                            page_size=7))
    ids = [row[table.primary_id] for p in pages for row in p.rows]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert len(pages) == math.ceil(len(expected) / 7)
    assert all(len(p.rows) == 7 and p.next_link for p in pages[:-1])
    assert pages[-1].next_link is None and pages[-1].delta_link is None
    assert all(p.next_link.startswith(emulator.info["api_url"]) for p in pages[:-1])
    assert all(set(row) >= {table.primary_id, table.primary_name} for p in pages for row in p.rows)
    log = [e for e in emulator.app.request_log if e.path.endswith("/" + table.entity_set_name)]
    assert len(log) == len(pages) and all("skiptoken" in e.query for e in log[1:])


def test_filter_builder_values_reach_the_server_intact(client: DataverseClient, emulator: Any) -> None:
    table = emulator.app.schema["cdm_worker"]
    name = "O'Brien & Søn"
    row_id = emulator.app.store.insert("cdm_worker", {table.primary_name: name})
    flt = odata.and_(odata.eq(table.primary_name, name), odata.eq("statecode", 0))
    rows = [r for p in iter_pages(client, table.entity_set_name, select=[table.primary_name], filter=flt)
            for r in p.rows]
    assert [(r[table.primary_id], r[table.primary_name]) for r in rows] == [(row_id, name)]


def test_counts(client: DataverseClient, emulator: Any) -> None:
    store = emulator.app.store
    workers = emulator.app.schema["cdm_worker"]
    assert count(client, workers.entity_set_name) == store.count("cdm_worker")
    totals = total_record_count(client, ["cdm_worker", "cdm_job"])
    assert totals == {"cdm_worker": store.count("cdm_worker"), "cdm_job": store.count("cdm_job")}
