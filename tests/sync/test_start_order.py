"""Start order of a run's tables: key-range tables, then biggest first; sizes from the warehouse, else one
``RetrieveTotalRecordCount`` request; an unsizeable table keeps its catalog place."""

from __future__ import annotations

import logging
from dataclasses import replace

from hr_dataverse.catalog import load_catalog
from hr_dataverse.sync.start_order import start_order, table_sizes


def _specs(names):
    catalog = load_catalog()
    return [catalog.get(n) if n in catalog.names() else replace(catalog.get("cdm_job"), name=n) for n in names]


NAMES = ("cdm_company", "cdm_job", "cdm_worker", "mshr_hcmworkerskillentity", "cdm_leavebanktransaction")


def _count_requests(emulator) -> list[str]:
    return [e.path for e in emulator.app.request_log.entries() if "RetrieveTotalRecordCount" in e.path]


def test_unknown_sizes_come_from_one_count_request_and_stored_ones_are_not_asked(emulator, client):
    store = emulator.app.store
    emulator.app.request_log.clear()
    sizes = table_sizes(client, _specs(NAMES), {"cdm_worker": 7})
    assert len(_count_requests(emulator)) == 1
    assert sizes["cdm_worker"] == 7  # the warehouse's figure wins, and was not asked for
    assert {n: sizes[n] for n in NAMES if n != "cdm_worker"} == {n: store.count(n) for n in NAMES if n != "cdm_worker"}
    emulator.app.request_log.clear()
    assert table_sizes(client, _specs(NAMES), dict.fromkeys(NAMES, 1)) == dict.fromkeys(NAMES, 1)
    assert _count_requests(emulator) == []  # every size known: no request


def test_order_is_key_range_tables_then_biggest_first_then_catalog_order():
    catalog = load_catalog()
    specs = [catalog.get(n) for n in NAMES]
    assert [s.partition_by_key for s in specs] == [False, False, False, True, False]
    sizes = {"cdm_company": 4, "cdm_job": 4, "cdm_worker": 900, "cdm_leavebanktransaction": 2000}
    assert [s.name for s in start_order(specs, sizes)] == [
        "mshr_hcmworkerskillentity", "cdm_leavebanktransaction", "cdm_worker", "cdm_company", "cdm_job"]
    assert start_order(specs, {}) == [specs[3], specs[0], specs[1], specs[2], specs[4]]


def test_an_unreadable_table_costs_one_more_request_not_the_order(emulator, client, caplog):
    """The emulator's default tenant cannot read cdm_workerpersonaldetail: the request for every table is
    refused naming its privilege; the one without that table answers."""
    names = ("cdm_job", "cdm_workerpersonaldetail", "cdm_worker")
    emulator.app.request_log.clear()
    with caplog.at_level(logging.WARNING, logger="hr_dataverse.sync.start_order"):
        sizes = table_sizes(client, _specs(names), {})
    assert len(_count_requests(emulator)) == 2
    assert sizes == {"cdm_job": emulator.app.store.count("cdm_job"), "cdm_worker": emulator.app.store.count("cdm_worker")}
    assert "sizes of 3 tables refused" in caplog.text and "1 tables have no size" in caplog.text


def test_a_refusal_naming_no_table_of_the_request_leaves_catalog_order(emulator, client, caplog):
    with caplog.at_level(logging.WARNING, logger="hr_dataverse.sync.start_order"):
        assert table_sizes(client, _specs(["cdm_job", "cdm_nosuchtable"]), {}) == {}
    assert "sizes of 2 tables refused" in caplog.text and "2 tables have no size" in caplog.text
    assert len(_count_requests(emulator)) >= 1
    assert table_sizes(None, _specs(["cdm_job"]), {}) == {}  # no client: stored sizes only
