"""RetrieveUserSetOfPrivilegesByNames (bound to systemuser), table privilege metadata, and the tenant
variants (no URS tables, no HR virtual tables, no Worker lookup, a withheld privilege)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from dataverse_emulator.testing import authenticated_session, running_emulator

FUNCTION = "Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNames"


class _Client:
    """The tests' ``dv`` shape (``get``, ``session``, ``api``, ``app``) for an emulator of a tenant variant."""

    def __init__(self, emu) -> None:
        self.emulator, self.app, self.api = emu, emu.app, emu.info["api_url"]
        self.session = authenticated_session(emu.info)

    def get(self, path: str, **kwargs):
        return self.session.get(self.api + path, **kwargs)


def _user_id(dv) -> str:
    return dv.get("WhoAmI").json()["UserId"]


def _privileges(dv, names: list[str], user_id: str | None = None, **kwargs):
    alias = quote(json.dumps(names))
    return dv.get(f"systemusers({user_id or _user_id(dv)})/{FUNCTION}(PrivilegeNames=@p1)?@p1={alias}", **kwargs)


def test_lists_the_held_privileges_with_their_depth(shared_dv):
    names = ["prvCreatecharacteristic", "prvReadcdm_worker", "prvWritecdm_worker", "prvReadcdm_workerpersonaldetail"]
    resp = _privileges(shared_dv, names)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["@odata.context"].endswith("/$metadata#Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNamesResponse")
    held = {p["PrivilegeName"]: p for p in body["RolePrivileges"]}
    assert set(held) == {"prvCreatecharacteristic", "prvReadcdm_worker"}  # no write on HR, no personal details
    entry = held["prvCreatecharacteristic"]
    assert set(entry) == {"Depth", "PrivilegeId", "BusinessUnitId", "PrivilegeName", "RecordFilterId",
                          "RecordFilterUniqueName"}
    assert entry["Depth"] == "Global" and entry["BusinessUnitId"] == shared_dv.get("WhoAmI").json()["BusinessUnitId"]
    # The same privilege id as in the table's metadata.
    meta = shared_dv.get("EntityDefinitions(LogicalName='characteristic')?$select=Privileges").json()
    by_name = {p["Name"]: p for p in meta["Privileges"]}
    assert by_name["prvCreatecharacteristic"]["PrivilegeId"] == entry["PrivilegeId"]
    assert by_name["prvCreatecharacteristic"]["PrivilegeType"] == "Create"
    assert {p["PrivilegeType"] for p in meta["Privileges"]} >= {"Create", "Read", "Write", "Delete", "Append",
                                                                "AppendTo"}


def test_inline_collection_and_depth_names(dv):
    dv.app.security.define_role("BU writer", {"characteristic": {"write": "businessunit", "read": "user"}})
    dv.app.security.set_roles(dv.emulator.info["client_id"], ["BU writer"])
    resp = dv.get(f"systemusers({_user_id(dv)})/{FUNCTION}(PrivilegeNames=['prvWritecharacteristic',"
                  "'prvReadcharacteristic','prvCreatecharacteristic','prvNoSuchThing'])")
    assert resp.status_code == 200, resp.text
    assert {p["PrivilegeName"]: p["Depth"] for p in resp.json()["RolePrivileges"]} == {
        "prvWritecharacteristic": "Local", "prvReadcharacteristic": "Basic"}


@pytest.mark.parametrize(("path", "status", "code", "text"), [
    ("systemusers({uid})/" + FUNCTION + "()", 400, "0x80060888", "parameter 'PrivilegeNames'"),
    ("systemusers({uid})/" + FUNCTION + "(PrivilegeNames=@p9)", 400, "0x80060888", "alias '@p9' has no value"),
    ("systemusers({uid})/" + FUNCTION + "(PrivilegeNames='prvReadcdm_worker')", 400, "0x80060888",
     "not a collection of strings"),
    ("systemusers(00000000-0000-0000-0000-000000000001)/" + FUNCTION + "(PrivilegeNames=['x'])", 404,
     "0x80040217", "systemuser With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist"),
    ("systemusers({uid})/RetrieveUserSetOfPrivilegesByNames(PrivilegeNames=['x'])", 404, "0x80060888",
     "Resource not found for the segment 'systemusers'"),
    ("systemusers({uid})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()", 404, "0x80060888",
     "Resource not found for the segment 'systemusers'"),
])
def test_refusals(shared_dv, path, status, code, text):
    resp = shared_dv.get(path.format(uid=_user_id(shared_dv)))
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code and text in resp.json()["error"]["message"]


def test_a_function_refuses_post(shared_dv):
    url = f"{shared_dv.api}systemusers({_user_id(shared_dv)})/{FUNCTION}(PrivilegeNames=['x'])"
    resp = shared_dv.session.post(url, json={}, headers={"Accept": "application/json"})
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "0x80060888"


def test_another_users_privileges_need_read_on_systemuser(dv):
    security = dv.app.security
    security.define_role("Other", {"characteristic": {"read": "organization"}})
    other = security.add_application_user("11111111-2222-3333-4444-555555555555", roles=["Other"])
    denied = _privileges(dv, ["prvReadcharacteristic"], user_id=other)
    assert denied.status_code == 403 and "is missing prvReadsystemuser privilege" in denied.json()["error"]["message"]


def test_tenant_variants(emulator_state_dir: Path):
    with running_emulator(emulator_state_dir, urs_installed=False, hr_virtual_tables=False) as emu:
        dv = _Client(emu)
        assert not any(t.startswith("mshr_") for t in emu.app.schema)
        for table in ("characteristic", "mshr_hcmskillentity"):
            resp = dv.get(f"EntityDefinitions(LogicalName='{table}')")
            assert resp.status_code == 404 and "was not found in the MetadataCache" in resp.json()["error"]["message"]
        assert dv.get("characteristics").status_code == 404
        assert dv.get("cdm_workers?$top=1").status_code == 200  # the HR tables are there
    with running_emulator(emulator_state_dir, bookableresource_worker_lookup=False,
                          withheld_privileges=("prvCreatecharacteristic",)) as emu:
        dv = _Client(emu)
        attrs = dv.get("EntityDefinitions(LogicalName='bookableresource')/Attributes?$select=LogicalName").json()
        assert "cdm_workerid" not in {a["LogicalName"] for a in attrs["value"]} and "name" in {
            a["LogicalName"] for a in attrs["value"]}
        assert all("cdm_workerid" not in r for r in emu.app.store.iter_rows("bookableresource"))
        held = _privileges(dv, ["prvCreatecharacteristic", "prvWritecharacteristic"]).json()["RolePrivileges"]
        assert [p["PrivilegeName"] for p in held] == ["prvWritecharacteristic"]
        refused = dv.session.post(f"{dv.api}characteristics", json={"name": "x", "characteristictype": 1},
                                  headers={"Accept": "application/json"})
        assert refused.status_code == 403 and "prvCreatecharacteristic" in refused.json()["error"]["message"]
