"""Change tracking against the emulator: initial read, delta with updates and deletes, expiry."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hr_dataverse.dataverse import ChangeTrackingNotEnabled, DataverseClient, DeltaTokenExpired, read_changes


def initial(client: DataverseClient, table: Any, page_size: int = 10) -> tuple[list[Any], str]:
    pages = list(read_changes(client, table.entity_set_name, select=[table.primary_id, table.primary_name],
                              page_size=page_size))
    assert all(p.delta_link is None and p.next_link for p in pages[:-1])
    assert pages[-1].next_link is None and pages[-1].delta_link
    return pages, pages[-1].delta_link


def test_initial_read_then_delta_with_update_insert_and_delete(client: DataverseClient, emulator: Any) -> None:
    store, table = emulator.app.store, emulator.app.schema["cdm_worker"]
    pages, delta = initial(client, table)
    ids = [r[table.primary_id] for p in pages for r in p.upserts]
    assert sorted(ids) == sorted(r[table.primary_id] for r in store.iter_rows("cdm_worker"))
    assert all(not p.deleted_ids for p in pages)
    assert delta.startswith(emulator.info["api_url"]) and "deltatoken" in delta

    changed, gone = ids[0], ids[1]
    store.update("cdm_worker", changed, {table.primary_name: "Renamed Worker"})
    store.delete("cdm_worker", gone)
    added = store.insert("cdm_worker", {table.primary_name: "New Hire"})
    changes = list(read_changes(client, delta))
    upserts = {r[table.primary_id]: r for p in changes for r in p.upserts}
    assert set(upserts) == {changed, added}
    assert upserts[changed][table.primary_name] == "Renamed Worker"
    assert [d for p in changes for d in p.deleted_ids] == [gone]
    new_delta = changes[-1].delta_link
    assert new_delta and new_delta != delta

    quiet = list(read_changes(client, new_delta))
    assert [(p.upserts, p.deleted_ids) for p in quiet] == [([], [])] and quiet[-1].delta_link


def test_table_without_change_tracking(client: DataverseClient, emulator: Any) -> None:
    table = emulator.app.schema["cdm_workeraddress"]
    with pytest.raises(ChangeTrackingNotEnabled) as info:
        next(read_changes(client, table.entity_set_name))
    assert info.value.code == "0x80072491"


def test_expired_and_tampered_delta_links_mean_full_resync(client: DataverseClient, emulator: Any) -> None:
    table = emulator.app.schema["cdm_worker"]
    _, delta = initial(client, table, page_size=5000)
    tampered = delta.split("$deltatoken=")[0] + "$deltatoken=" + uuid.uuid4().hex
    with pytest.raises(DeltaTokenExpired) as bad:
        list(read_changes(client, tampered))
    assert 400 <= (bad.value.status or 0) < 500
    emulator.app.clock.advance(8 * 86400)  # past the 7-day retention
    client.tokens.get_token(force_refresh=True)  # a token valid at the emulator's new time
    with pytest.raises(DeltaTokenExpired):
        list(read_changes(client, delta))

