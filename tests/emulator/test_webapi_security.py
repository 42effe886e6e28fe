"""Privileges and field security on the read side: 403s before any data, secured columns nulled."""

from __future__ import annotations

import pytest

JSON = "application/json; odata.metadata=minimal"


def _privilege_denied(resp, table: str) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.headers["Content-Type"] == JSON
    error = resp.json()["error"]
    assert set(resp.json()) == {"error"} and error["code"] == "0x80040220"
    assert f"is missing prvRead{table} privilege" in error["message"]
    assert f"for entity '{table}'" in error["message"]


@pytest.mark.parametrize("path,prefer", [
    ("cdm_workerpersonaldetails?$select=cdm_name", None),
    ("cdm_workerpersonaldetails/$count", None),
    ("cdm_workerpersonaldetails?$select=cdm_name", "odata.track-changes"),
    ("cdm_workerpersonaldetails(cdm_workerid=00000000-0000-0000-0000-000000000001)", None),
    ("cdm_workerpersonaldetails(00000000-0000-0000-0000-000000000001)", None),
])
def test_unreadable_table_is_403_before_data(shared_dv, path, prefer):
    assert "cdm_workerpersonaldetail" in shared_dv.app.config.unreadable_tables
    _privilege_denied(shared_dv.get(path, prefer=prefer), "cdm_workerpersonaldetail")


def test_expand_into_an_unreadable_table_is_403(dv):
    privileges = {t: {"read": "organization"} for t in dv.app.schema if t != "cdm_job"}
    dv.app.security.define_role("No jobs", privileges)
    dv.app.security.set_roles(dv.emulator.info["client_id"], ["No jobs"])
    assert dv.get("cdm_jobpositions?$select=cdm_jobpositionnumber&$top=1").status_code == 200
    _privilege_denied(dv.get("cdm_jobpositions?$expand=cdm_JobId($select=cdm_name)"), "cdm_job")


def test_change_tracking_needs_organization_level_read(dv):
    privileges = {t: {"read": "organization"} for t in dv.app.schema}
    privileges["cdm_worker"] = {"read": "businessunit"}
    dv.app.security.define_role("BU reader", privileges)
    dv.app.security.set_roles(dv.emulator.info["client_id"], ["BU reader"])
    plain = dv.get("cdm_workers?$select=cdm_fullname")
    assert plain.status_code == 200 and plain.json()["value"]
    _privilege_denied(dv.get("cdm_workers?$select=cdm_fullname", prefer="odata.track-changes"), "cdm_worker")


def test_field_security_nulls_secured_columns(dv):
    security, client_id = dv.app.security, dv.emulator.info["client_id"]
    security.secure_column("cdm_worker", "cdm_primaryemailaddress")
    row = next(r for r in dv.app.store.iter_rows("cdm_worker") if r.get("cdm_primaryemailaddress"))
    path = f"cdm_workers({row['cdm_workerid']})?$select=cdm_fullname,cdm_primaryemailaddress"
    assert dv.get(path).json()["cdm_primaryemailaddress"] == row["cdm_primaryemailaddress"]  # profile grants all

    security.set_field_profiles(client_id, [])
    single = dv.get(path, prefer='odata.include-annotations="*"')
    assert single.status_code == 200
    body = single.json()
    assert body["cdm_primaryemailaddress"] is None and body["cdm_fullname"] == row["cdm_fullname"]
    assert not any(k.startswith("cdm_primaryemailaddress@") for k in body)
    listed = dv.get("cdm_workers?$select=cdm_primaryemailaddress").json()["value"]
    assert listed and all(item["cdm_primaryemailaddress"] is None for item in listed)

    security.define_field_profile("Email readers", {("cdm_worker", "cdm_primaryemailaddress")})
    security.set_field_profiles(client_id, ["Email readers"])
    assert dv.get(path).json()["cdm_primaryemailaddress"] == row["cdm_primaryemailaddress"]


def test_missing_token_is_401_with_challenge(shared_dv):
    resp = shared_dv.session.get(shared_dv.api + "cdm_workers", headers={"Authorization": ""})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
