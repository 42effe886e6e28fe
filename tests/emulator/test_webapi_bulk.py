"""CreateMultiple / UpdateMultiple / UpsertMultiple over TLS: response shapes, all-or-nothing, @odata.type."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

JSON = "application/json; odata.metadata=minimal"
NS = "Microsoft.Dynamics.CRM."
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def action(dv, entity_set: str, message: str, targets: Any):
    headers = {"Content-Type": "application/json", "Accept": "application/json", "OData-Version": "4.0"}
    return dv.session.post(f"{dv.api}{entity_set}/{NS}{message}", json={"Targets": targets}, headers=headers)


def error(resp, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return body["error"]["message"]


def typed(logical_name: str, **values: Any) -> dict:
    return {"@odata.type": NS + logical_name, **values}


def snapshot(dv, table: str) -> dict[str, dict]:
    return {r[f"{table}id"]: dict(r) for r in dv.app.store.iter_rows(table)}


def test_create_multiple_returns_ids(dv):
    targets = [typed("characteristic", name=f"Skill {i}", characteristictype=1 + i % 2) for i in range(3)]
    resp = action(dv, "characteristics", "CreateMultiple", targets)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert set(body) == {"@odata.context", "Ids"}
    assert body["@odata.context"] == f"{dv.api}$metadata#{NS}CreateMultipleResponse"
    assert len(body["Ids"]) == 3 and all(re.fullmatch(GUID, i) for i in body["Ids"])
    rows = [dv.app.store.get("characteristic", i) for i in body["Ids"]]
    assert [(r["name"], r["characteristictype"]) for r in rows] == [("Skill 0", 1), ("Skill 1", 2), ("Skill 2", 1)]


def test_create_multiple_is_all_or_nothing(dv):
    before, version = snapshot(dv, "characteristic"), dv.app.store.current_version()
    targets = [typed("characteristic", name="Fine", characteristictype=1),
               typed("characteristic", name="Broken", characteristictype=5),
               typed("characteristic", name="Never reached", characteristictype=1)]
    message = error(action(dv, "characteristics", "CreateMultiple", targets), 400, "0x80044331")
    assert message.endswith("Accepted Values: 1,2 (Targets[1])")
    assert snapshot(dv, "characteristic") == before and dv.app.store.current_version() == version


def test_every_target_needs_odata_type(dv):
    before = snapshot(dv, "characteristic")
    targets = [typed("characteristic", name="Typed", characteristictype=1), {"name": "Untyped", "characteristictype": 1}]
    message = error(action(dv, "characteristics", "CreateMultiple", targets), 400, "0x80048d19")
    assert message.startswith("Targets[1] has no '@odata.type' annotation.")
    wrong = [typed("ratingmodel", name="Wrong type", characteristictype=1)]
    assert "is not assignable to the expected type 'Microsoft.Dynamics.CRM.characteristic'" in error(
        action(dv, "characteristics", "CreateMultiple", wrong), 400, "0x80048d19")
    assert snapshot(dv, "characteristic") == before


@pytest.mark.parametrize("body", [{}, {"Targets": []}, {"Targets": "x"}])
def test_targets_must_be_a_non_empty_array(shared_dv, body):
    resp = shared_dv.session.post(f"{shared_dv.api}characteristics/{NS}CreateMultiple", json=body)
    assert "needs a non-empty 'Targets' array" in error(resp, 400, "0x80048d19")


def test_update_multiple_is_204_and_bumps_versions(dv):
    rows = list(snapshot(dv, "characteristic").values())
    targets = [typed("characteristic", characteristicid=r["characteristicid"], description=f"d{i}")
               for i, r in enumerate(rows)]
    resp = action(dv, "characteristics", "UpdateMultiple", targets)
    assert resp.status_code == 204 and resp.content == b""
    for i, old in enumerate(rows):
        new = dv.app.store.get("characteristic", old["characteristicid"])
        assert new["description"] == f"d{i}" and new["versionnumber"] > old["versionnumber"]


def test_update_multiple_missing_row_rolls_back(dv):
    before = snapshot(dv, "characteristic")
    existing = next(iter(before))
    missing = str(uuid.uuid4())
    targets = [typed("characteristic", characteristicid=existing, description="changed"),
               typed("characteristic", characteristicid=missing, description="ghost")]
    message = error(action(dv, "characteristics", "UpdateMultiple", targets), 404, "0x80040217")
    assert message == f"characteristic With Id = {missing} Does Not Exist (Targets[1])"
    assert snapshot(dv, "characteristic") == before


def test_upsert_multiple_creates_and_updates_by_odata_id(dv):
    link = next(dv.app.store.iter_rows("bookableresourcecharacteristic"))
    resource = next(r for r in dv.app.store.iter_rows("bookableresource") if r["bookableresourceid"] != link["resource"])
    new_id = str(uuid.uuid4())
    set_name = "bookableresourcecharacteristics"
    targets = [
        typed("bookableresourcecharacteristic", name="renamed",
              **{"@odata.id": f"{set_name}({link['bookableresourcecharacteristicid']})"}),
        typed("bookableresourcecharacteristic", name="created", **{
            "@odata.id": f"{set_name}(bookableresourcecharacteristicid={new_id})",
            "Resource@odata.bind": f"/bookableresources({resource['bookableresourceid']})",
            "Characteristic@odata.bind": f"/characteristics({link['characteristic']})",
        }),
    ]
    resp = action(dv, set_name, "UpsertMultiple", targets)
    assert resp.status_code == 204 and resp.content == b""
    assert dv.app.store.get("bookableresourcecharacteristic", link["bookableresourcecharacteristicid"])["name"] == "renamed"
    created = dv.app.store.get("bookableresourcecharacteristic", new_id)
    assert (created["name"], created["resource"]) == ("created", resource["bookableresourceid"])


def test_upsert_multiple_with_unknown_key_is_400_and_rolls_back(dv):
    before = snapshot(dv, "bookableresourcecharacteristic")
    link = next(iter(before))
    targets = [typed("bookableresourcecharacteristic", name="renamed",
                     **{"@odata.id": f"bookableresourcecharacteristics({link})"}),
               typed("bookableresourcecharacteristic", name="x",
                     **{"@odata.id": "bookableresourcecharacteristics(name='x')"})]
    message = error(action(dv, "bookableresourcecharacteristics", "UpsertMultiple", targets), 400, "0x80060888")
    assert message == ("The requested key attributes do not exist for the entity bookableresourcecharacteristic"
                       " (Targets[1])")
    assert snapshot(dv, "bookableresourcecharacteristic") == before


def test_message_not_enabled_for_table_is_400(shared_dv):
    targets = [typed("characteristic", name="x", characteristictype=1)]
    message = error(action(shared_dv, "characteristics", "UpsertMultiple", targets), 400, "0x80040265")
    assert message.startswith("The 'UpsertMultiple' method does not support entities of type 'characteristic'.")
