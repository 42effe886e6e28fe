"""Store: load, CRUD, primary-key paging, change log, tombstones, delta tokens and expiry."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from emulator_helpers import generated_store

from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.guid_order import sql_guid_key
from dataverse_emulator.store import (
    DuplicateRow,
    InvalidDeltaToken,
    RowNotFound,
    StoreError,
    UnknownTable,
    parse_delta_token,
)

CH = "characteristic"


@pytest.fixture
def config():
    return EmulatorConfig(scale=40)


@pytest.fixture
def store(config):
    return generated_store(config)


def _new(store, name="Welding"):
    return store.insert(CH, {"name": name, "characteristictype": 1})


def test_load_fills_system_columns_with_increasing_versions(store):
    versions = []
    for table in store.schema:
        for row in store.iter_rows(table):
            assert row["statecode"] == 0 and row["statuscode"] == 1
            assert row["createdon"] <= row["modifiedon"]
            versions.append(row["versionnumber"])
    assert len(versions) == len(set(versions)) == store.current_version()
    assert store.count("cdm_worker") == 40


def test_load_rejects_unknown_tables_and_duplicate_ids(store):
    with pytest.raises(UnknownTable, match="nope"):
        store.load({"nope": []})
    row_id = str(uuid.uuid4())
    with pytest.raises(DuplicateRow, match=row_id):
        store.load({CH: [{"characteristicid": row_id, "name": "a"}, {"characteristicid": row_id, "name": "b"}]})


def test_paging_is_in_primary_key_order_and_complete(store):
    table = "mshr_hcmworkerskillentity"
    # Primary-key order is SQL Server's uniqueidentifier order, not text order.
    expected = sorted((r["mshr_hcmworkerskillentityid"] for r in store.iter_rows(table)), key=sql_guid_key)
    assert expected != sorted(expected)
    seen, after = [], None
    while True:
        page = store.page(table, after_id=after, limit=7)
        assert len(page) <= 7
        if not page:
            break
        seen += [r["mshr_hcmworkerskillentityid"] for r in page]
        after = page[-1]["mshr_hcmworkerskillentityid"]
    assert seen == expected and len(expected) > 100
    # The paging cookie carries upper-case GUIDs in braces.
    middle = expected[50]
    assert store.page(table, after_id="{" + middle.upper() + "}", limit=1)[0]["mshr_hcmworkerskillentityid"] == expected[51]


def test_page_with_predicate_and_returned_rows_are_copies(store):
    actual = store.page("mshr_hcmworkerskillentity", after_id=None, limit=10,
                        predicate=lambda r: r["mshr_leveltype"] == 200000001)
    assert actual and all(r["mshr_leveltype"] == 200000001 for r in actual)
    actual[0]["mshr_leveltype"] = 1
    assert store.get("mshr_hcmworkerskillentity", actual[0]["mshr_hcmworkerskillentityid"])["mshr_leveltype"] == 200000001


def test_insert_assigns_id_defaults_and_next_version(store):
    before = store.current_version()
    row_id = _new(store)
    row = store.get(CH, row_id)
    assert uuid.UUID(row_id) and row["characteristicid"] == row_id
    assert (row["statecode"], row["statuscode"], row["versionnumber"]) == (0, 1, before + 1)
    assert row["createdon"] == row["modifiedon"]
    given = str(uuid.uuid4())
    assert store.insert(CH, {"characteristicid": "{" + given.upper() + "}", "name": "x", "description": None}) == given
    assert "description" not in store.get(CH, given)  # nulls are not stored
    with pytest.raises(DuplicateRow):
        store.insert(CH, {"characteristicid": given, "name": "again"})
    with pytest.raises(StoreError, match="not a valid GUID"):
        store.insert(CH, {"characteristicid": "not-a-guid", "name": "x"})


def test_update_bumps_version_and_clears_nulls(store):
    row_id = store.insert(CH, {"name": "Welding", "characteristictype": 1, "description": "hot"})
    version = store.get(CH, row_id)["versionnumber"]
    store.clock.advance(5)
    updated = store.update(CH, row_id, {"description": None, "name": "Welding 2", "characteristicid": "ignored",
                                        "versionnumber": 1})
    assert updated["name"] == "Welding 2" and "description" not in updated
    assert updated["characteristicid"] == row_id and updated["versionnumber"] == version + 1
    assert updated["modifiedon"] > updated["createdon"]
    same = store.update(CH, row_id, {})  # no value changed: still a new version
    assert same["versionnumber"] == version + 2
    with pytest.raises(RowNotFound, match="Does Not Exist"):
        store.update(CH, str(uuid.uuid4()), {"name": "x"})


def test_delete_returns_row_and_missing_rows_raise(store):
    row_id = _new(store)
    assert store.delete(CH, row_id)["name"] == "Welding"
    assert store.get(CH, row_id) is None and store.get(CH, "garbage") is None
    assert row_id not in [r["characteristicid"] for r in store.page(CH, after_id=None, limit=100)]
    with pytest.raises(RowNotFound):
        store.delete(CH, row_id)
    with pytest.raises(UnknownTable):
        store.count("account")


def test_iter_rows_is_a_snapshot(store):
    row_id = _new(store)
    snapshot = store.iter_rows(CH)
    store.update(CH, row_id, {"name": "changed"})
    _new(store, "later")
    names = [r["name"] for r in snapshot]
    assert "Welding" in names and "changed" not in names and "later" not in names


def test_changes_since_orders_dedups_and_reports_deletes(store):
    start = store.current_version()
    a, b, c = _new(store, "a"), _new(store, "b"), _new(store, "c")
    store.update(CH, a, {"name": "a2"})  # a moves after c
    store.delete(CH, b)
    ghost = _new(store, "ghost")  # created and deleted between polls: still a delete
    store.delete(CH, ghost)
    rows, deletes = store.changes_since(CH, start)
    assert [(r["characteristicid"], r["name"]) for r in rows] == [(c, "c"), (a, "a2")]
    assert [r["versionnumber"] for r in rows] == sorted(r["versionnumber"] for r in rows)
    assert [d[0] for d in deletes] == [b, ghost]
    assert all(start < v <= store.current_version() for _, v in deletes)
    assert store.changes_since(CH, store.current_version()) == ([], [])
    assert store.changes_since("cdm_worker", start) == ([], [])  # other tables untouched


def test_changes_since_rows_after_skips_served_rows_but_keeps_every_delete(store):
    """What a delta read's later pages ask for: rows after the last one served, deletes of the whole window."""
    start = store.current_version()
    a = _new(store, "a")
    store.delete(CH, _new(store, "gone"))
    b = _new(store, "b")
    served = store.changes_since(CH, start)[0][0]["versionnumber"]  # page 1 served row a
    rows, deletes = store.changes_since(CH, start, rows_after=served, copy=False)
    assert [r["characteristicid"] for r in rows] == [b] and len(deletes) == 1
    assert rows[0] is store.changes_since(CH, start, copy=False)[0][1]  # uncopied: the stored row itself
    assert store.changes_since(CH, start)[0][0] is not store.changes_since(CH, start)[0][0]  # copies by default
    assert store.changes_since(CH, start, rows_after=store.current_version())[0] == []
    assert a != b


def test_changes_since_until_bounds_the_window(store):
    start = store.current_version()
    first = _new(store, "first")
    middle = store.current_version()
    _new(store, "second")
    assert [r["name"] for r in store.changes_since(CH, start, until=middle)[0]] == ["first"]
    assert [r["name"] for r in store.changes_since(CH, middle)[0]] == ["second"]
    store.delete(CH, first)  # its latest change now lies after the window
    assert store.changes_since(CH, start, until=middle) == ([], [])
    rows, deletes = store.changes_since(CH, middle)
    assert [r["name"] for r in rows] == ["second"] and [d[0] for d in deletes] == [first]


def test_reinserting_a_deleted_id_supersedes_its_tombstone(store):
    start = store.current_version()
    row_id = _new(store)
    store.delete(CH, row_id)
    store.insert(CH, {"characteristicid": row_id, "name": "back"})
    rows, deletes = store.changes_since(CH, start)
    assert [r["characteristicid"] for r in rows] == [row_id] and deletes == []


def test_initial_rows_are_all_changes_since_zero(store):
    rows, deletes = store.changes_since("cdm_worker", 0)
    assert len(rows) == 40 and deletes == []


def test_delta_token_format_and_round_trip(store):
    token = store.make_delta_token(919042)
    assert re.fullmatch(r"919042!\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", token)
    version, when = store.parse_delta_token(token)
    assert version == 919042 and when.tzinfo is not None
    assert abs(store.clock.now() - when) < timedelta(seconds=2)
    assert parse_delta_token("12644418993!10/06/2022 20:06:12") == (
        12644418993, datetime(2022, 10, 6, 20, 6, 12, tzinfo=UTC))
    for bad in ["", "abc", "12!2022-10-06 20:06:12", "12!13/45/2022 20:06:12", "x!10/06/2022 20:06:12", None]:
        with pytest.raises(InvalidDeltaToken):
            parse_delta_token(bad)


def test_token_expiry_follows_retention_and_clock(store, config):
    _, issued = store.parse_delta_token(store.make_delta_token(store.current_version()))
    assert not store.is_expired(issued)
    store.clock.advance(7 * 86400 - 60)
    assert not store.is_expired(issued)
    store.clock.advance(120)
    assert store.is_expired(issued)
    config.change_tracking_retention_days = 30
    assert not store.is_expired(issued)


def test_tombstones_older_than_retention_are_purged(store):
    start = store.current_version()
    old = _new(store, "old")
    store.delete(CH, old)
    store.clock.advance(8 * 86400)
    recent = _new(store, "recent")
    store.delete(CH, recent)  # a delete purges expired tombstones as it goes
    assert [d[0] for d in store.changes_since(CH, start)[1]] == [recent]
    store.clock.advance(8 * 86400)
    assert store.purge_tombstones() == 1
    assert store.changes_since(CH, start)[1] == []


def test_concurrent_writes_get_unique_versions(store):
    start = store.current_version()

    def work():
        for i in range(150):
            row_id = _new(store, f"t{i}")
            store.update(CH, row_id, {"description": "x"})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows, _ = store.changes_since(CH, start)
    versions = [r["versionnumber"] for r in rows]
    assert len(rows) == 600 and versions == sorted(set(versions))
    assert store.current_version() == start + 1200


def test_find_uses_an_index_kept_in_step_with_writes(store):
    assert store.find(CH, "name", "Welding") == []
    first, second = _new(store), _new(store)
    found = store.find(CH, "name", "Welding")
    assert [r["characteristicid"] for r in found] == sorted([first, second], key=sql_guid_key)
    store.update(CH, first, {"name": "Brazing"})
    store.delete(CH, second)
    assert store.find(CH, "name", "Welding") == []
    assert [r["characteristicid"] for r in store.find(CH, "name", "Brazing")] == [first]
    store.update(CH, first, {"name": None})
    assert store.find(CH, "name", "Brazing") == []
    worker = next(iter(store.iter_rows("cdm_worker")))
    expected = [r for r in store.iter_rows("cdm_employment") if r["cdm_workerid"] == worker["cdm_workerid"]]
    assert store.find("cdm_employment", "cdm_workerid", worker["cdm_workerid"]) == expected
