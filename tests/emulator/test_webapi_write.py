"""Web API writes over TLS: create, update, upsert, delete, @odata.bind, validation, cascades, privileges."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from dataverse_emulator.security import DEFAULT_ROLE

JSON = "application/json; odata.metadata=minimal"
PAYLOAD_PREFIX = (
    "Error identified in Payload provided by the user for Entity :'{set}', For more information on this error "
    "please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : "
    "Microsoft.OData.ODataException: "
)


def send(dv, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
         data: bytes | None = None):
    h = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0",
         "Content-Type": "application/json", **(headers or {})}
    return dv.session.request(method, dv.api + path, json=body if data is None else None, data=data, headers=h)


def error(resp, status: int, code: str, message: str | None = None) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == JSON
    assert resp.headers["OData-Version"] == "4.0"
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    if message is not None:
        assert body["error"]["message"] == message
    return body["error"]["message"]


def first(dv, table: str, **match: Any) -> dict:
    return next(dict(r) for r in dv.app.store.iter_rows(table) if all(r.get(k) == v for k, v in match.items()))


def entity_id(resp) -> str:
    match = re.fullmatch(r".*\(([0-9a-f-]{36})\)", resp.headers["OData-EntityId"])
    assert match, resp.headers["OData-EntityId"]
    return match.group(1)


def grant_hr_writes(dv, table: str) -> None:
    """An admin adds create/write on an HR table (the default role only reads HR data)."""
    security = dv.app.security
    security.define_role("HR writer", {table: {a: "organization" for a in ("read", "create", "write")}})
    security.set_roles(dv.emulator.info["client_id"], [DEFAULT_ROLE, "HR writer"])


# --- create --------------------------------------------------------------------------------------


def test_create_is_204_with_entity_id(dv):
    resp = send(dv, "POST", "characteristics", {"name": "Welding", "characteristictype": 1})
    assert resp.status_code == 204 and resp.content == b""
    assert resp.headers["OData-Version"] == "4.0"
    row_id = entity_id(resp)
    assert resp.headers["OData-EntityId"] == f"{dv.api}characteristics({row_id})"
    row = dv.app.store.get("characteristic", row_id)
    assert row["name"] == "Welding" and row["characteristictype"] == 1 and row["statecode"] == 0


def test_create_with_representation_honours_select(dv):
    resp = send(dv, "POST", "characteristics?$select=name,characteristictype",
                {"name": "Forklift", "characteristictype": 2}, headers={"Prefer": "return=representation"})
    assert resp.status_code == 201 and resp.headers["Content-Type"] == JSON
    assert resp.headers["Preference-Applied"] == "return=representation"
    body = resp.json()
    assert body["@odata.context"] == f"{dv.api}$metadata#characteristics(name,characteristictype)/$entity"
    stored = dv.app.store.get("characteristic", body["characteristicid"])
    assert body["@odata.etag"] == f'W/"{stored["versionnumber"]}"'
    assert set(body) == {"@odata.context", "@odata.etag", "name", "characteristictype", "characteristicid"}
    assert (body["name"], body["characteristictype"]) == ("Forklift", 2)


def test_create_with_binds_by_id_and_by_alternate_key(dv):
    worker = first(dv, "cdm_worker", cdm_workernumber="000001")
    resp = send(dv, "POST", "bookableresources", {
        "name": "Worker resource", "resourcetype": 3, "timezone": 85,
        "cdm_WorkerId@odata.bind": "/cdm_workers(cdm_workernumber='000001')",
    }, headers={"Prefer": "return=representation"})
    assert resp.status_code == 201, resp.text
    resource = resp.json()
    assert resource["_cdm_workerid_value"] == worker["cdm_workerid"]
    characteristic = first(dv, "characteristic", name="Customer service")
    value = first(dv, "ratingvalue", name="Qualified")
    resp = send(dv, "POST", "bookableresourcecharacteristics", {
        "Resource@odata.bind": f"/bookableresources({resource['bookableresourceid']})",
        "Characteristic@odata.bind": f"characteristics({characteristic['characteristicid']})",
        "RatingValue@odata.bind": f"{dv.api}ratingvalues({value['ratingvalueid']})",
    })
    assert resp.status_code == 204, resp.text
    row = dv.app.store.get("bookableresourcecharacteristic", entity_id(resp))
    assert (row["resource"], row["characteristic"], row["ratingvalue"]) == (
        resource["bookableresourceid"], characteristic["characteristicid"], value["ratingvalueid"])


def test_bind_to_a_table_the_emulator_does_not_hold(dv):
    """``UserId`` targets systemuser: the caller's own user exists, any other id is a missing row."""
    user_id = dv.app.security.application_user(dv.emulator.info["client_id"]).user_id
    body = {"name": "Mine", "resourcetype": 3, "timezone": 0, "@odata.type": "Microsoft.Dynamics.CRM.bookableresource"}
    created = send(dv, "POST", "bookableresources", {**body, "UserId@odata.bind": f"/systemusers({user_id})"})
    assert created.status_code == 204, created.text
    assert dv.app.store.get("bookableresource", entity_id(created))["userid"] == user_id
    other = str(uuid.uuid4())
    missing = send(dv, "POST", "bookableresources", {**body, "UserId@odata.bind": f"/systemusers({other})"})
    error(missing, 404, "0x80040217", f"systemuser With Id = {other} Does Not Exist")


def test_instance_annotation_needs_a_dotted_name(shared_dv):
    resp = send(shared_dv, "POST", "characteristics", {"name": "x", "characteristictype": 1, "@logicalName": "x"})
    assert error(resp, 400, "0x80048d19").endswith(
        "InnerException : System.ArgumentException: 'logicalName' is an invalid instance annotation name. An "
        "instance annotation name must contain a period that is not at the start or end of the name.")


@pytest.mark.parametrize("data, inner", [
    (b"{not json", "Invalid JSON. A token was not recognized in the JSON content."),
    (b"[1, 2]", "An unexpected 'StartArray' node was found when reading from the JSON reader. "
                "A 'StartObject' node was expected."),
])
def test_malformed_body_is_400(shared_dv, data, inner):
    before = shared_dv.app.store.count("characteristic")
    resp = send(shared_dv, "POST", "characteristics", data=data)
    error(resp, 400, "0x80048d19", PAYLOAD_PREFIX.format(set="characteristics") + inner)
    assert shared_dv.app.store.count("characteristic") == before


def test_unknown_property_is_400(shared_dv):
    resp = send(shared_dv, "POST", "characteristics", {"Name": "Welding", "characteristictype": 1})
    error(resp, 400, "0x80048d19", PAYLOAD_PREFIX.format(set="characteristics") + (
        "The property 'Name' does not exist on type 'Microsoft.Dynamics.CRM.characteristic'. Make sure to only "
        "use property names that are defined by the type or mark the type as open type."))


def test_wrong_case_navigation_property_is_400(shared_dv):
    model = first(shared_dv, "ratingmodel", name="Manual proficiency")
    resp = send(shared_dv, "POST", "ratingvalues", {"name": "Good", "value": 5,
                                             "ratingmodel@odata.bind": f"/ratingmodels({model['ratingmodelid']})"})
    error(resp, 400, "0x80048d19", PAYLOAD_PREFIX.format(set="ratingvalues") + (
        "An undeclared property 'ratingmodel' which only has property annotations in the payload but no property "
        "value was found in the payload. In OData, only declared navigation properties and declared named streams "
        "can be represented as properties without values."))


def test_bind_to_missing_row_is_404(shared_dv):
    missing = str(uuid.uuid4())
    resp = send(shared_dv, "POST", "ratingvalues", {"name": "Good", "value": 5,
                                             "RatingModel@odata.bind": f"/ratingmodels({missing})"})
    error(resp, 404, "0x80040217", f"ratingmodel With Id = {missing} Does Not Exist")


def test_bind_to_wrong_table_or_null_is_400(shared_dv):
    characteristic = first(shared_dv, "characteristic", name="Customer service")
    wrong = send(shared_dv, "POST", "ratingvalues", {
        "name": "Good", "value": 5, "RatingModel@odata.bind": f"/characteristics({characteristic['characteristicid']})"})
    assert "not assignable to the expected type 'Microsoft.Dynamics.CRM.ratingmodel'" in error(wrong, 400, "0x80048d19")
    null = send(shared_dv, "POST", "ratingvalues", {"name": "Good", "value": 5, "RatingModel@odata.bind": None})
    assert "'odata.bind' instance or property annotation has a null value" in error(null, 400, "0x80048d19")


@pytest.mark.parametrize("entity_set, body, code, message", [
    ("characteristics", {"name": "x" * 101, "characteristictype": 1}, "0x80044331",
     "A validation error occurred.  The length of the 'name' attribute of the 'characteristic' entity exceeded "
     "the maximum allowed length of '100'."),
    ("characteristics", {"name": "Welding", "characteristictype": 3}, "0x80044331",
     "A validation error occurred.  The value 3 of 'characteristictype' on record of type 'characteristic' is "
     "outside the valid range. Accepted Values: 1,2"),
    ("ratingmodels", {"name": "Wide", "minratingvalue": -201, "maxratingvalue": 5}, "0x80044331",
     "A validation error occurred.  The value -201 of 'minratingvalue' on record of type 'ratingmodel' is "
     "outside the valid range. Minimum Value: -200, Maximum value: 200"),
    ("ratingmodels", {"name": "Typed", "minratingvalue": "1", "maxratingvalue": 5}, "0x80048d19",
     PAYLOAD_PREFIX.format(set="ratingmodels") + "Cannot convert the literal '1' to the expected type 'Edm.Int32'."),
    ("characteristics", {"name": True, "characteristictype": 1}, "0x80048d19",
     PAYLOAD_PREFIX.format(set="characteristics")
     + "Cannot convert the literal 'true' to the expected type 'Edm.String'."),
])
def test_type_and_range_checks(shared_dv, entity_set, body, code, message):
    error(send(shared_dv, "POST", entity_set, body), 400, code, message)


def test_required_attribute_is_named(shared_dv):
    resp = send(shared_dv, "POST", "ratingmodels", {"name": "No range", "minratingvalue": 1})
    error(resp, 400, "0x80040203",
          "A value for the required attribute 'maxratingvalue' of entity 'ratingmodel' was not provided.")
    resp = send(shared_dv, "POST", "ratingvalues", {"name": "Orphan", "value": 1})
    assert "'ratingmodel'" in error(resp, 400, "0x80040203") and "RatingModel@odata.bind" in resp.text


@pytest.mark.parametrize("column", ["createdon", "versionnumber"])
def test_read_only_columns_are_refused(shared_dv, column):
    resp = send(shared_dv, "POST", "characteristics", {"name": "Welding", "characteristictype": 1, column: 5})
    error(resp, 400, "0x80040203",
          f"The attribute '{column}' of entity 'characteristic' is read-only and cannot be set on create.")


def test_lookup_value_property_is_refused(shared_dv):
    model = first(shared_dv, "ratingmodel", name="Manual proficiency")
    resp = send(shared_dv, "POST", "ratingvalues", {"name": "Good", "value": 5, "_ratingmodel_value": model["ratingmodelid"]})
    assert error(resp, 400, "0x80048d19").endswith(
        "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.")


def test_rating_value_must_fit_its_model_and_be_unique(dv):
    model = first(dv, "ratingmodel", name="Manual proficiency")  # 1..10, values 1 and 10 exist
    bind = {"RatingModel@odata.bind": f"/ratingmodels({model['ratingmodelid']})"}
    outside = send(dv, "POST", "ratingvalues", {"name": "Too high", "value": 11, **bind})
    assert "outside the range of rating model 'Manual proficiency' (1 to 10)" in error(outside, 400, "0x80040265")
    duplicate = send(dv, "POST", "ratingvalues", {"name": "Again", "value": 10, **bind})
    assert "already exists for rating model 'Manual proficiency'" in error(duplicate, 400, "0x80040265")
    assert send(dv, "POST", "ratingvalues", {"name": "Middle", "value": 5, **bind}).status_code == 204


@pytest.mark.parametrize("method, path, body, privilege", [
    ("POST", "cdm_companies", {"cdm_name": "X", "cdm_companycode": "XX"}, "prvCreatecdm_company"),
    ("PATCH", "cdm_companies({id})", {"cdm_name": "X"}, "prvWritecdm_company"),
    ("DELETE", "cdm_companies({id})", None, "prvDeletecdm_company"),
])
def test_missing_privilege_is_403(dv, method, path, body, privilege):
    company = next(dv.app.store.iter_rows("cdm_company"))
    resp = send(dv, method, path.format(id=company["cdm_companyid"]), body, headers={"If-Match": "*"})
    message = error(resp, 403, "0x80040220")
    assert f"is missing {privilege} privilege" in message and "on OTC=10010 for entity 'cdm_company'" in message
    assert dv.app.store.get("cdm_company", company["cdm_companyid"]) == company


# --- update / upsert -----------------------------------------------------------------------------


def test_upsert_creates_then_updates_with_204(dv):
    row_id = str(uuid.uuid4())
    created = send(dv, "PATCH", f"characteristics({row_id})", {"name": "Rigging", "characteristictype": 1})
    assert created.status_code == 204 and created.content == b""
    assert created.headers["OData-EntityId"] == f"{dv.api}characteristics({row_id})"
    version = dv.app.store.get("characteristic", row_id)["versionnumber"]
    updated = send(dv, "PATCH", f"characteristics({row_id})", {"description": "Ropes"})
    assert updated.status_code == 204 and updated.headers["OData-EntityId"] == created.headers["OData-EntityId"]
    row = dv.app.store.get("characteristic", row_id)
    assert (row["name"], row["description"]) == ("Rigging", "Ropes") and row["versionnumber"] > version


def test_upsert_with_representation_is_201_then_200_with_etag(dv):
    row_id = str(uuid.uuid4())
    prefer = {"Prefer": "return=representation"}
    created = send(dv, "PATCH", f"characteristics({row_id})", {"name": "Rigging", "characteristictype": 1},
                   headers=prefer)
    assert created.status_code == 201 and created.headers["ETag"] == created.json()["@odata.etag"]
    updated = send(dv, "PATCH", f"characteristics({row_id})?$select=name", {"name": "Rigging 2"}, headers=prefer)
    assert updated.status_code == 200 and updated.headers["ETag"] == updated.json()["@odata.etag"]
    assert updated.json()["@odata.context"] == f"{dv.api}$metadata#characteristics(name)/$entity"
    assert updated.headers["ETag"] != created.headers["ETag"]


def test_upsert_by_alternate_key_echoes_key_url(dv):
    grant_hr_writes(dv, "cdm_skilltype")
    path = "cdm_skilltypes(cdm_name='Rope access')"
    created = send(dv, "PATCH", path, {"cdm_description": "Work at height"})
    assert created.status_code == 204 and created.headers["OData-EntityId"] == dv.api + path
    row = first(dv, "cdm_skilltype", cdm_name="Rope access")
    count = dv.app.store.count("cdm_skilltype")
    updated = send(dv, "PATCH", path, {"cdm_description": "Industrial rope access"})
    assert updated.status_code == 204 and dv.app.store.count("cdm_skilltype") == count
    assert dv.app.store.get("cdm_skilltype", row["cdm_skilltypeid"])["cdm_description"] == "Industrial rope access"


def test_if_match_star_blocks_create(dv):
    row_id = str(uuid.uuid4())
    resp = send(dv, "PATCH", f"characteristics({row_id})", {"name": "Ghost", "characteristictype": 1},
                headers={"If-Match": "*"})
    error(resp, 404, "0x80040217", f"characteristic With Id = {row_id} Does Not Exist")
    assert dv.app.store.get("characteristic", row_id) is None


def test_if_none_match_star_blocks_update(dv):
    existing = first(dv, "characteristic", name="Customer service")
    resp = send(dv, "PATCH", f"characteristics({existing['characteristicid']})", {"name": "Renamed"},
                headers={"If-None-Match": "*"})
    error(resp, 412, "0x80040237", "A record with matching key values already exists.")
    assert dv.app.store.get("characteristic", existing["characteristicid"]) == existing
    fresh = send(dv, "PATCH", f"characteristics({uuid.uuid4()})", {"name": "New", "characteristictype": 2},
                 headers={"If-None-Match": "*"})
    assert fresh.status_code == 204


def test_if_match_version_is_optimistic_concurrency(dv):
    row = first(dv, "characteristic", name="Customer service")
    path = f"characteristics({row['characteristicid']})"
    stale = send(dv, "PATCH", path, {"description": "x"}, headers={"If-Match": f'W/"{row["versionnumber"] - 1}"'})
    error(stale, 412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.")
    assert dv.app.store.get("characteristic", row["characteristicid"]) == row
    fresh = send(dv, "PATCH", path, {"description": "x"}, headers={"If-Match": f'W/"{row["versionnumber"]}"'})
    assert fresh.status_code == 204
    assert dv.app.store.get("characteristic", row["characteristicid"])["description"] == "x"


# --- delete and cascades -------------------------------------------------------------------------


def test_delete_then_404(dv):
    row = first(dv, "characteristic", name="Customer service")
    path = f"characteristics({row['characteristicid']})"
    resp = send(dv, "DELETE", path)
    assert resp.status_code == 204 and resp.content == b""
    assert dv.app.store.get("characteristic", row["characteristicid"]) is None
    error(send(dv, "DELETE", path), 404, "0x80040217",
          f"characteristic With Id = {row['characteristicid']} Does Not Exist")


def test_characteristic_in_use_cannot_be_deleted(dv):
    row = first(dv, "characteristic", name="Hazmat handling")  # used by the seeded resource characteristic
    resp = send(dv, "DELETE", f"characteristics({row['characteristicid']})")
    error(resp, 405, "0x80040227",
          "The object you tried to delete is associated with another object and cannot be deleted.")
    assert dv.app.store.get("characteristic", row["characteristicid"]) == row


def test_deleting_a_resource_cascades_to_its_characteristics(dv):
    link = next(dv.app.store.iter_rows("bookableresourcecharacteristic"))
    assert send(dv, "DELETE", f"bookableresources({link['resource']})").status_code == 204
    assert dv.app.store.get("bookableresourcecharacteristic", link["bookableresourcecharacteristicid"]) is None
    assert dv.app.store.get("characteristic", link["characteristic"]) is not None  # Restrict side untouched


def test_deleting_a_rating_model_cascades_and_clears_lookups(dv):
    link = dict(next(dv.app.store.iter_rows("bookableresourcecharacteristic")))
    model_id = dv.app.store.get("ratingvalue", link["ratingvalue"])["ratingmodel"]
    assert send(dv, "DELETE", f"ratingmodels({model_id})").status_code == 204
    assert dv.app.store.find("ratingvalue", "ratingmodel", model_id) == []
    after = dv.app.store.get("bookableresourcecharacteristic", link["bookableresourcecharacteristicid"])
    assert "ratingvalue" not in after and after["versionnumber"] > link["versionnumber"]  # RemoveLink


def test_write_on_unsupported_resource_is_405(shared_dv):
    row = first(shared_dv, "characteristic", name="Customer service")
    resp = send(shared_dv, "POST", f"characteristics({row['characteristicid']})", {"name": "x"})
    error(resp, 405, "0x80060888")


# --- change tracking sees writes -----------------------------------------------------------------


def _delta_link(dv, path: str) -> str:
    resp = send(dv, "GET", path, headers={"Prefer": "odata.track-changes"})
    while "@odata.deltaLink" not in resp.json():
        resp = send(dv, "GET", resp.json()["@odata.nextLink"].removeprefix(dv.api),
                    headers={"Prefer": "odata.track-changes"})
    return resp.json()["@odata.deltaLink"]


def test_writes_bump_versions_and_appear_in_delta(dv):
    link = _delta_link(dv, "characteristics?$select=name,description")
    keep = first(dv, "characteristic", name="Customer service")
    created = entity_id(send(dv, "POST", "characteristics", {"name": "Scaffolding", "characteristictype": 1}))
    assert send(dv, "PATCH", f"characteristics({keep['characteristicid']})", {"description": "Calls"},
                headers={"If-Match": "*"}).status_code == 204
    assert send(dv, "DELETE", f"characteristics({created})").status_code == 204
    assert dv.app.store.get("characteristic", keep["characteristicid"])["versionnumber"] > keep["versionnumber"]
    delta = send(dv, "GET", link.removeprefix(dv.api), headers={"Prefer": "odata.track-changes"})
    assert delta.status_code == 200, delta.text
    values = delta.json()["value"]
    changed = [v for v in values if "characteristicid" in v]
    deleted = [v for v in values if v.get("reason") == "deleted"]
    assert [(v["characteristicid"], v["description"]) for v in changed] == [(keep["characteristicid"], "Calls")]
    assert [v["id"] for v in deleted] == [created]
