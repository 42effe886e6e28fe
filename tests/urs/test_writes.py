"""``hr_dataverse.dataverse.writes`` against the emulator (single rows, bulk actions, $batch) and on canned answers."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest
from urs_clients import client_for

from hr_dataverse.dataverse import DataverseError, NotFound
from hr_dataverse.dataverse.writes import (
    BulkSupport,
    EntityTable,
    RowWrite,
    WriteOptions,
    WriteStats,
    create,
    delete,
    parse_batch_response,
    update,
    upsert,
    write_many,
)

CHARACTERISTIC = EntityTable("characteristic", "characteristics", "characteristicid")
MESSAGES = ("UpsertMultiple", "CreateMultiple", "UpdateMultiple")


@pytest.fixture
def client(emulator):
    with client_for(emulator.info) as c:
        yield c


def _writes(emulator) -> list[tuple[str, str, int]]:
    return [(e.method, e.path.rsplit("/", 1)[-1], e.status) for e in emulator.app.request_log if e.method != "GET"]


def _batch_only(client) -> BulkSupport:
    support = BulkSupport()
    for message in MESSAGES:
        support.set(client, CHARACTERISTIC, message, False)
    return support


def test_single_row_helpers(emulator, client):
    store = emulator.app.store
    row_id = create(client, CHARACTERISTIC, {"name": "Welding (TIG)", "characteristictype": 1})
    assert store.get("characteristic", row_id)["name"] == "Welding (TIG)"

    update(client, CHARACTERISTIC, row_id, {"description": "Tungsten inert gas"})
    assert store.get("characteristic", row_id)["description"] == "Tungsten inert gas"

    chosen = str(uuid.uuid4())
    upsert(client, CHARACTERISTIC, chosen, {"name": "Crane operation", "characteristictype": 2})
    upsert(client, CHARACTERISTIC, chosen, {"name": "Crane operation (mobile)", "characteristictype": 2})
    assert store.get("characteristic", chosen)["name"] == "Crane operation (mobile)"

    delete(client, CHARACTERISTIC, chosen)
    assert store.get("characteristic", chosen) is None
    with pytest.raises(NotFound) as missing:
        update(client, CHARACTERISTIC, chosen, {"name": "x"})  # If-Match: * never creates
    assert missing.value.status == 404 and missing.value.code == "0x80040217"
    assert store.get("characteristic", chosen) is None
    assert [w[0] for w in _writes(emulator)] == ["POST", "PATCH", "PATCH", "PATCH", "DELETE", "PATCH"]


def test_batch_isolates_a_bad_row_and_writes_the_others(emulator, client):
    rows = [RowWrite(f"row-{n}", str(uuid.uuid4()), {"name": f"Batch skill {n}", "characteristictype": 1})
            for n in range(25)]
    rows[13] = RowWrite("row-13", rows[13].row_id, {"name": "x" * 101, "characteristictype": 1})
    stats = WriteStats()
    emulator.app.request_log.clear()

    results = write_many(client, CHARACTERISTIC, "create", rows, stats=stats, support=_batch_only(client))

    assert [r.ref for r in results] == [r.ref for r in rows]
    bad = results[13]
    assert not bad.ok and bad.status == 400 and bad.code == "0x80044331" and "maximum allowed length" in bad.message
    assert bad.request_id and bad.via == "$batch"
    assert all(r.ok and r.row_id == w.row_id and r.via == "$batch" for r, w in zip(results, rows, strict=True)
               if r is not bad)
    store = emulator.app.store
    assert all(store.get("characteristic", w.row_id) is not None for n, w in enumerate(rows) if n != 13)
    assert store.get("characteristic", rows[13].row_id) is None
    # One batch of three change sets; the failed change set's 9 other rows once more, one per change set.
    assert _writes(emulator) == [("POST", "$batch", 200), ("POST", "$batch", 200)]
    assert stats.requests == 2 and stats.by_kind == {"$batch": 2} and stats.by_table == {"characteristic": 2}


def test_create_multiple_without_ids_returns_the_new_ids(emulator, client):
    support = BulkSupport()
    rows = [RowWrite(f"r{n}", None, {"name": f"Server id {n}", "characteristictype": 2}) for n in range(3)]
    emulator.app.request_log.clear()

    results = write_many(client, CHARACTERISTIC, "create", rows, support=support)

    assert _writes(emulator) == [("POST", "Microsoft.Dynamics.CRM.CreateMultiple", 200)]
    names = [emulator.app.store.get("characteristic", r.row_id)["name"] for r in results]
    assert names == ["Server id 0", "Server id 1", "Server id 2"] and all(r.via == "CreateMultiple" for r in results)


def test_bulk_support_is_learnt_once_per_table(emulator, client):
    support = BulkSupport()
    first = [RowWrite("a", str(uuid.uuid4()), {"name": "Learn 1", "characteristictype": 1})]
    second = [RowWrite("b", str(uuid.uuid4()), {"name": "Learn 2", "characteristictype": 1})]
    emulator.app.request_log.clear()

    assert write_many(client, CHARACTERISTIC, "create", first, support=support)[0].ok
    assert write_many(client, CHARACTERISTIC, "create", second, support=support)[0].ok

    assert _writes(emulator) == [("POST", "Microsoft.Dynamics.CRM.UpsertMultiple", 400),
                                 ("POST", "Microsoft.Dynamics.CRM.CreateMultiple", 200),
                                 ("POST", "Microsoft.Dynamics.CRM.CreateMultiple", 200)]
    assert support.get(client, CHARACTERISTIC, "UpsertMultiple") is False
    assert support.get(client, CHARACTERISTIC, "CreateMultiple") is True


def test_update_many_reports_a_missing_row_and_updates_the_rest(emulator, client):
    store = emulator.app.store
    ids = [create(client, CHARACTERISTIC, {"name": f"Upd {n}", "characteristictype": 1}) for n in range(3)]
    missing = str(uuid.uuid4())
    rows = [RowWrite(i, i, {"description": "updated"}) for i in ids[:2]] + [RowWrite("gone", missing, {"name": "x"})]
    rows.append(RowWrite(ids[2], ids[2], {"statecode": 1, "statuscode": 2}))
    emulator.app.request_log.clear()

    results = write_many(client, CHARACTERISTIC, "update", rows, support=BulkSupport())

    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].status == 404 and results[2].code == "0x80040217" and missing in results[2].message
    assert [store.get("characteristic", i).get("description") for i in ids[:2]] == ["updated", "updated"]
    assert store.get("characteristic", ids[2])["statecode"] == 1
    assert store.get("characteristic", missing) is None
    # All or nothing on the bulk action, then $batch to find the row.
    assert [w[1:] for w in _writes(emulator)] == [("Microsoft.Dynamics.CRM.UpdateMultiple", 404), ("$batch", 200),
                                                  ("$batch", 200)]


def test_delete_many(emulator, client):
    store = emulator.app.store
    free = [create(client, CHARACTERISTIC, {"name": f"Del {n}", "characteristictype": 1}) for n in range(2)]
    in_use = next(r["characteristic"] for r in store.iter_rows("bookableresourcecharacteristic"))
    gone = str(uuid.uuid4())
    rows = [RowWrite(i, i) for i in [*free, gone, in_use]]

    results = write_many(client, CHARACTERISTIC, "delete", rows)  # one change set: rows fail one at a time

    assert [r.ok for r in results] == [True, True, True, False]
    assert results[2].status == 404  # already gone counts as deleted
    assert results[3].status == 405 and results[3].code == "0x80040227"
    assert store.get("characteristic", free[0]) is None and store.get("characteristic", in_use) is not None


def test_write_many_checks_its_arguments(client):
    with pytest.raises(ValueError, match="op must be one of create, update, delete"):
        write_many(client, CHARACTERISTIC, "merge", [])
    with pytest.raises(ValueError, match="every row to update needs its row_id"):
        write_many(client, CHARACTERISTIC, "update", [RowWrite("x")])
    with pytest.raises(ValueError, match="batch_size must be at most 1000"):
        WriteOptions(batch_size=1001)
    with pytest.raises(ValueError, match="changeset_size"):
        WriteOptions(changeset_size=0)


# --- canned answers ------------------------------------------------------------------------------


def _answer(parts: list[str], boundary: str = "batchresponse_1") -> tuple[str, bytes]:
    body = "".join(f"--{boundary}\n{p}\n" for p in parts) + f"--{boundary}--\n"
    return f"multipart/mixed; boundary={boundary}", body.encode()


def _http(status: str, body: str = "", content_id: str | None = None) -> str:
    cid = f"Content-ID: {content_id}\n" if content_id else ""
    return f"Content-Type: application/http\nContent-Transfer-Encoding: binary\n{cid}\nHTTP/1.1 {status}\nOData-Version: 4.0\n\n{body}"


def _changeset(parts: list[str], boundary: str = "changesetresponse_1") -> str:
    inner = "".join(f"--{boundary}\n{p}\n" for p in parts) + f"--{boundary}--"
    return f"Content-Type: multipart/mixed; boundary={boundary}\n\n{inner}"


def test_parse_batch_response_with_lf_lines():
    error = json.dumps({"error": {"code": "0x80040217", "message": "characteristic With Id = x Does Not Exist"}})
    content_type, body = _answer([_changeset([_http("204 No Content", content_id="1"),
                                              _http("204 No Content", content_id="2")]),
                                  _http("404 Not Found", error, content_id="4")])
    items = parse_batch_response(content_type, body)
    assert [p.status for p in items[0]] == [204, 204] and [p.content_id for p in items[0]] == ["1", "2"]
    assert items[1].status == 404 and json.loads(items[1].body)["error"]["code"] == "0x80040217"
    with pytest.raises(DataverseError, match="no closing delimiter"):
        parse_batch_response(content_type, body.replace(b"--batchresponse_1--", b""))
    with pytest.raises(DataverseError, match="not multipart"):
        parse_batch_response("application/json", body)


class _CannedClient:
    """Answers $batch requests from a list and keeps the bodies it was sent."""

    base_url = "https://org.example/api/data/v9.2/"

    def __init__(self, answers: list[tuple[str, bytes]]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    def url_for(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, **kw):
        self.sent.append(kw["data"].decode())
        content_type, body = self.answers.pop(0)
        return SimpleNamespace(headers={"Content-Type": content_type}, content=body, status=200)


def test_failed_change_set_without_content_id_retries_each_row_alone():
    error = json.dumps({"error": {"code": "0x80044331", "message": "A validation error occurred."}})
    client = _CannedClient([
        _answer([_http("400 Bad Request", error)]),  # the change set failed; the part names no operation
        _answer([_changeset([_http("204 No Content", content_id="1")], "cs_a"),
                 _http("400 Bad Request", error, content_id="2"),
                 _changeset([_http("204 No Content", content_id="3")], "cs_c")]),
    ])
    rows = [RowWrite(f"r{n}", str(uuid.uuid4()), {"name": f"n{n}"}) for n in range(3)]
    support = _batch_only(client)

    results = write_many(client, CHARACTERISTIC, "create", rows, support=support)

    assert [r.ok for r in results] == [True, False, True]
    assert results[1].code == "0x80044331" and results[1].status == 400
    change_sets = [body.count("Content-Type: multipart/mixed") for body in client.sent]
    assert change_sets == [1, 3]  # all three rows together, then each alone
    assert all(f"PATCH {client.base_url}characteristics({r.row_id}) HTTP/1.1" in client.sent[1] for r in rows)
