"""``odata.metadata=none|full`` in Accept, and ``odata.include-annotations`` filters, including the
error-detail annotations (reference §2.4, §3)."""

from __future__ import annotations

import pytest

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty"


def test_metadata_none_drops_control_information_but_keeps_paging(shared_dv):
    resp = shared_dv.get("cdm_workers?$select=cdm_fullname&$count=true", prefer="odata.maxpagesize=5",
                         headers={"Accept": "application/json;odata.metadata=none"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json; odata.metadata=none"
    body = resp.json()
    assert list(body) == ["@odata.count", "value", "@odata.nextLink"]
    assert all(set(row) == {"cdm_fullname", "cdm_workerid"} for row in body["value"])


def test_metadata_full_adds_type_id_and_edit_link(shared_dv):
    resp = shared_dv.get("cdm_workers?$select=cdm_fullname&$top=2",
                         headers={"Accept": "application/json;odata.metadata=full"})
    assert resp.headers["Content-Type"] == "application/json; odata.metadata=full"
    for row in resp.json()["value"]:
        assert list(row)[:3] == ["@odata.type", "@odata.id", "@odata.editLink"]
        assert row["@odata.type"] == "#Microsoft.Dynamics.CRM.cdm_worker"
        assert row["@odata.id"] == f"{shared_dv.api}cdm_workers({row['cdm_workerid']})"
        assert row["@odata.editLink"] == f"cdm_workers({row['cdm_workerid']})"
    row_id = resp.json()["value"][0]["cdm_workerid"]
    single = shared_dv.get(f"cdm_workers({row_id})?$select=cdm_fullname",
                           headers={"Accept": "application/json;odata.metadata=full"}).json()
    assert list(single)[:2] == ["@odata.context", "@odata.type"] and single["@odata.editLink"] == f"cdm_workers({row_id})"


def test_unknown_metadata_level_is_not_acceptable(shared_dv):
    resp = shared_dv.get("cdm_workers?$top=1", headers={"Accept": "application/json;odata.metadata=verbose"})
    assert resp.status_code == 406 and resp.json()["error"]["code"] == "0x80060888"


@pytest.mark.parametrize("preference,expected", [
    ("*", {FORMATTED, LOOKUP, NAV}),
    (FORMATTED, {FORMATTED}),
    ("Microsoft.Dynamics.CRM.*", {LOOKUP, NAV}),
    (f"*,-{FORMATTED}", {LOOKUP, NAV}),
])
def test_annotation_filters(shared_dv, preference, expected):
    resp = shared_dv.get("cdm_employments?$select=_cdm_workerid_value&$top=1",
                         prefer=f'odata.include-annotations="{preference}"')
    assert resp.headers["Preference-Applied"] == f'odata.include-annotations="{preference}"'
    row = resp.json()["value"][0]
    terms = {key.split("@", 1)[1] for key in row if key.startswith("_cdm_workerid_value@")}
    assert terms == expected


def test_error_annotations_on_request(shared_dv):
    plain = shared_dv.get("cdm_workers?$select=nope").json()
    assert set(plain["error"]) == {"code", "message"}
    annotated = shared_dv.get("cdm_workers?$select=nope", prefer='odata.include-annotations="*"').json()["error"]
    assert annotated["code"] == "0x80060888"
    assert annotated["@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus"] == "0"
    assert annotated["@Microsoft.PowerApps.CDS.InnerError.Message"] == annotated["message"]
    assert annotated["@Microsoft.PowerApps.CDS.HelpLink"].endswith("CrmException%3A80060888&client=platform")
    assert "@Microsoft.PowerApps.CDS.TraceText" not in annotated
