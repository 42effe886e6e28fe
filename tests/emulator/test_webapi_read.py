"""Entity-set reads over the wire: query options, paging, counts, single rows, WhoAmI, record counts."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from emulator_helpers import JSON, dataverse_error

from dataverse_emulator.guid_order import sql_guid_key


def _rows(dv, table: str) -> list[dict]:
    return [dict(r) for r in dv.app.store.iter_rows(table)]


# --- service document, WhoAmI, versions, routing -----------------------------------------------------


def test_service_document_lists_every_entity_set(shared_dv):
    resp = shared_dv.get("")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert body["@odata.context"] == shared_dv.api + "$metadata"
    names = {item["name"] for item in body["value"]}
    assert {t.entity_set_name for t in shared_dv.app.schema.values()} <= names
    assert all(item["kind"] == "EntitySet" and item["url"] == item["name"] for item in body["value"])


@pytest.mark.parametrize("path", ["WhoAmI", "WhoAmI()"])
def test_whoami(shared_dv, path):
    resp = shared_dv.get(path)
    assert resp.status_code == 200 and resp.headers["x-ms-dop-hint"].isdigit()
    body = resp.json()
    assert body["@odata.context"] == shared_dv.api + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"
    user = shared_dv.app.security.application_user(shared_dv.emulator.info["client_id"])
    assert body["UserId"] == user.user_id
    assert body["BusinessUnitId"] == shared_dv.app.security.business_unit_id
    assert body["OrganizationId"] == shared_dv.app.security.organization_id


@pytest.mark.parametrize("version", ["v9.0", "v9.1"])
def test_older_versions_are_aliases(shared_dv, version):
    url = shared_dv.api.replace("/v9.2/", f"/{version}/") + "cdm_companies?$select=cdm_name"
    resp = shared_dv.get(url)
    assert resp.status_code == 200
    assert resp.json()["@odata.context"].startswith(url.split("cdm_companies")[0] + "$metadata#cdm_companies(")


def test_unknown_version_and_unknown_segment_are_404(shared_dv):
    dataverse_error(shared_dv.get(shared_dv.api.replace("/v9.2/", "/v7.3/") + "WhoAmI"), 404, "0x80060888",
           "Resource not found for the segment 'v7.3'.")
    dataverse_error(shared_dv.get("ListTables"), 404, "0x80060888", "Resource not found for the segment 'ListTables'.")
    dataverse_error(shared_dv.get("cdm_workers/cdm_foo"), 404, "0x80060888", "Resource not found for the segment 'cdm_foo'.")


def test_malformed_key_is_a_syntax_error(shared_dv):
    dataverse_error(shared_dv.get("cdm_workers(not-a-guid)"), 400, "0x8006088a", "Bad Request - Error in query syntax.")


# --- RetrieveTotalRecordCount ----------------------------------------------------------------------


def test_retrieve_total_record_count_inline_and_alias(shared_dv):
    store = shared_dv.app.store
    expected = [store.count("cdm_worker"), store.count("cdm_job")]
    inline = shared_dv.get("RetrieveTotalRecordCount(EntityNames=['cdm_worker','cdm_job'])")
    alias = shared_dv.get('RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["cdm_worker","cdm_job"]')
    for resp in (inline, alias):
        assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
        body = resp.json()
        assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse")
        coll = body["EntityRecordCountCollection"]
        assert coll["Keys"] == ["cdm_worker", "cdm_job"] and coll["Values"] == expected


def test_retrieve_total_record_count_refuses_unknown_and_unreadable_tables(shared_dv):
    dataverse_error(shared_dv.get("RetrieveTotalRecordCount(EntityNames=['cdm_nope'])"), 404, "0x80041102")
    message = dataverse_error(shared_dv.get("RetrieveTotalRecordCount(EntityNames=['cdm_worker','cdm_workerpersonaldetail'])"),
                     403, "0x80040220")
    assert "prvReadcdm_workerpersonaldetail" in message


# --- query options ----------------------------------------------------------------------------------


def test_select_filter_orderby_top(shared_dv):
    resp = shared_dv.get("cdm_workers?$select=cdm_workernumber,cdm_fullname"
                         "&$filter=cdm_type eq 754400000&$orderby=cdm_workernumber desc&$top=5")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
    assert "Preference-Applied" not in resp.headers
    body = resp.json()
    assert list(body) == ["@odata.context", "value"]  # $top: no nextLink
    assert body["@odata.context"] == shared_dv.api + "$metadata#cdm_workers(cdm_workernumber,cdm_fullname)"
    employees = sorted((r for r in _rows(shared_dv, "cdm_worker") if r["cdm_type"] == 754400000),
                       key=lambda r: r["cdm_workernumber"], reverse=True)[:5]
    assert [r["cdm_workernumber"] for r in body["value"]] == [r["cdm_workernumber"] for r in employees]
    for item, row in zip(body["value"], employees, strict=True):
        assert list(item) == ["@odata.etag", "cdm_workernumber", "cdm_fullname", "cdm_workerid"]
        assert item["@odata.etag"] == f'W/"{row["versionnumber"]}"'
        assert item["cdm_workerid"] == row["cdm_workerid"]


def test_no_select_returns_every_column_with_nulls_and_wire_formats(shared_dv):
    resp = shared_dv.get("cdm_jobpositions?$top=1")
    item = resp.json()["value"][0]
    table = shared_dv.app.schema["cdm_jobposition"]
    assert set(item) == {"@odata.etag"} | {table.wire_name(a) for a in table.attributes.values()}
    row = shared_dv.app.store.get("cdm_jobposition", item["cdm_jobpositionid"])
    assert item["_cdm_jobid_value"] == row["cdm_jobid"] and "cdm_jobid" not in item
    assert item["cdm_validfrom"] == row["cdm_validfrom"] and item["cdm_validfrom"].endswith("Z")
    assert isinstance(item["cdm_fulltimeequivalent"], float)
    assert item["cdm_retirement"] is None or item["cdm_retirement"].endswith("Z")


@pytest.mark.parametrize("option", ["$skip=2", "$search=x", "$format=json"])
def test_unsupported_options_are_refused(shared_dv, option):
    name = option.split("=")[0]
    dataverse_error(shared_dv.get(f"cdm_workers?{option}"), 400, "0x80060888", f"The query parameter {name} is not supported")


@pytest.mark.parametrize("select", ["cdm_nope", "cdm_workerid,cdm_jobid"])
def test_unknown_or_bare_lookup_property_is_400(shared_dv, select):
    bad = select.split(",")[-1]
    table = "cdm_workers" if select == "cdm_nope" else "cdm_jobpositions"
    entity = "cdm_worker" if select == "cdm_nope" else "cdm_jobposition"
    dataverse_error(shared_dv.get(f"{table}?$select={bad}"), 400, "0x80060888",
           f"Could not find a property named '{bad}' on type 'Microsoft.Dynamics.CRM.{entity}'.")


def test_bad_filter_is_400(shared_dv):
    message = dataverse_error(shared_dv.get("cdm_workers?$filter=cdm_lastname eq 'O'Bryan'"), 400, "0x80060888")
    assert "unterminated literal" in message or "Syntax error" in message


def test_annotations_formatted_values_and_lookup_terms(shared_dv):
    resp = shared_dv.get("cdm_jobpositions?$select=cdm_jobpositionnumber,_cdm_jobid_value,cdm_validfrom,statecode&$top=1",
                         prefer='odata.include-annotations="*"')
    assert resp.headers["Preference-Applied"] == 'odata.include-annotations="*"'
    item = resp.json()["value"][0]
    row = shared_dv.app.store.get("cdm_jobposition", item["cdm_jobpositionid"])
    job = shared_dv.app.store.get("cdm_job", row["cdm_jobid"])
    keys = list(item)
    lookup = "_cdm_jobid_value"
    assert item[f"{lookup}@OData.Community.Display.V1.FormattedValue"] == job["cdm_name"]
    assert item[f"{lookup}@Microsoft.Dynamics.CRM.lookuplogicalname"] == "cdm_job"
    assert item[f"{lookup}@Microsoft.Dynamics.CRM.associatednavigationproperty"] == "cdm_JobId"
    assert keys.index(f"{lookup}@OData.Community.Display.V1.FormattedValue") < keys.index(lookup)
    assert item["statecode@OData.Community.Display.V1.FormattedValue"] == "Active"
    y, m, d = row["cdm_validfrom"][:10].split("-")
    assert item["cdm_validfrom@OData.Community.Display.V1.FormattedValue"].startswith(f"{int(m)}/{int(d)}/{y} ")


def test_annotation_list_limits_terms(shared_dv):
    resp = shared_dv.get("cdm_jobpositions?$select=_cdm_jobid_value&$top=1",
                         prefer='odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"')
    item = resp.json()["value"][0]
    assert [k for k in item if "@" in k and k != "@odata.etag"] == ["_cdm_jobid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]


def test_count_before_value_and_total_record_count_annotations(shared_dv):
    total = shared_dv.app.store.count("cdm_worker")
    prefer = ('odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,'
              'Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"')
    body = shared_dv.get("cdm_workers?$select=cdm_fullname&$count=true", prefer=prefer).json()
    assert list(body)[:4] == ["@odata.context", "@odata.count", "@Microsoft.Dynamics.CRM.totalrecordcount",
                              "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"]
    assert body["@odata.count"] == total == body["@Microsoft.Dynamics.CRM.totalrecordcount"]
    assert body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is False
    no_count = shared_dv.get("cdm_workers?$select=cdm_fullname", prefer=prefer).json()
    assert no_count["@Microsoft.Dynamics.CRM.totalrecordcount"] == -1 and "@odata.count" not in no_count


def test_count_is_capped(shared_dv, monkeypatch):
    monkeypatch.setattr(shared_dv.app.config, "count_cap", 5)
    body = shared_dv.get("cdm_workers?$select=cdm_fullname&$count=true",
                         prefer='odata.include-annotations="*"').json()
    assert body["@odata.count"] == 5 and body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is True
    resp = shared_dv.get("cdm_workers/$count")
    assert resp.status_code == 200 and resp.text == "5"


def test_dollar_count_is_bare_text(shared_dv):
    resp = shared_dv.get("cdm_workers/$count")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/plain"
    assert resp.text == str(shared_dv.app.store.count("cdm_worker"))
    filtered = shared_dv.get("cdm_workers/$count?$filter=cdm_type eq 754400001")
    expected = sum(1 for r in _rows(shared_dv, "cdm_worker") if r["cdm_type"] == 754400001)
    assert filtered.text == str(expected)


def test_expand_single_valued_navigation_with_nested_select(shared_dv):
    resp = shared_dv.get("cdm_jobpositions?$select=cdm_jobpositionnumber&$expand=cdm_JobId($select=cdm_name)&$top=3")
    body = resp.json()
    assert body["@odata.context"].endswith("$metadata#cdm_jobpositions(cdm_jobpositionnumber,cdm_JobId(cdm_name))")
    for item in body["value"]:
        row = shared_dv.app.store.get("cdm_jobposition", item["cdm_jobpositionid"])
        job = shared_dv.app.store.get("cdm_job", row["cdm_jobid"])
        assert item["cdm_JobId"] == {"@odata.etag": f'W/"{job["versionnumber"]}"', "cdm_name": job["cdm_name"],
                                     "cdm_jobid": job["cdm_jobid"]}
    dataverse_error(shared_dv.get("cdm_jobpositions?$expand=cdm_jobid"), 400, "0x80060888")


# --- paging -----------------------------------------------------------------------------------------


def _page_all(dv, first_url: str, prefer: str, reencode: bool) -> tuple[list[dict], list]:
    url, pages, responses = first_url, [], []
    while url:
        if reencode:  # Airbyte: split the link's query and send it again as params ('+' for spaces)
            parts = urlsplit(url)
            resp = dv.get(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(parse_qsl(parts.query))}",
                          prefer=prefer)
        else:
            resp = dv.get(url, prefer=prefer)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Preference-Applied"] == "odata.maxpagesize=7"
        body = resp.json()
        responses.append(body)
        pages.append(body["value"])
        url = body.get("@odata.nextLink")
        if url:
            assert list(body)[-1] == "@odata.nextLink"
    return [r for page in pages for r in page], responses


@pytest.mark.parametrize("reencode", [False, True], ids=["verbatim", "re-encoded"])
def test_paging_returns_every_row_exactly_once(shared_dv, reencode):
    rows, responses = _page_all(shared_dv, shared_dv.api + "cdm_workers?$select=cdm_fullname,cdm_workernumber",
                                "odata.maxpagesize=7", reencode)
    expected = sorted((r["cdm_workerid"] for r in _rows(shared_dv, "cdm_worker")), key=sql_guid_key)
    assert [r["cdm_workerid"] for r in rows] == expected  # primary-key (SQL Server GUID) order, no gaps, no repeats
    assert all(len(b["value"]) == 7 for b in responses[:-1]) and 1 <= len(responses[-1]["value"]) <= 7
    link = responses[0]["@odata.nextLink"]
    assert link.startswith(shared_dv.api + "cdm_workers?$select=cdm_fullname,cdm_workernumber&$skiptoken=")
    assert "%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e" in link
    last_id = responses[0]["value"][-1]["cdm_workerid"].upper()
    assert f"last%253d%2522%257b{last_id}%257d" in link


def test_paging_with_filter_and_orderby_is_consistent(shared_dv):
    url = shared_dv.api + "cdm_workers?$select=cdm_lastname&$filter=statecode eq 0&$orderby=cdm_lastname desc"
    rows, _ = _page_all(shared_dv, url, "odata.maxpagesize=7", reencode=True)
    active = [r for r in _rows(shared_dv, "cdm_worker") if r["statecode"] == 0]
    assert sorted(r["cdm_workerid"] for r in rows) == sorted(r["cdm_workerid"] for r in active)
    names = [r["cdm_lastname"].lower() for r in rows]
    assert names == sorted(names, reverse=True)


def test_maxpagesize_above_5000_is_ignored(shared_dv):
    resp = shared_dv.get("cdm_workers?$select=cdm_fullname", prefer="odata.maxpagesize=9000")
    assert resp.status_code == 200 and "Preference-Applied" not in resp.headers
    body = resp.json()
    assert len(body["value"]) == shared_dv.app.store.count("cdm_worker") and "@odata.nextLink" not in body


def test_preference_applied_lists_each_preference_once(shared_dv):
    resp = shared_dv.get("cdm_workers?$select=cdm_fullname", headers={"Prefer": "odata.maxpagesize=7"},
                         prefer=None)
    assert resp.headers["Preference-Applied"] == "odata.maxpagesize=7"
    both = shared_dv.get("cdm_workers?$select=cdm_fullname",
                         prefer='odata.maxpagesize=7,odata.include-annotations="*"')
    assert both.headers["Preference-Applied"] == 'odata.maxpagesize=7,odata.include-annotations="*"'


def test_corrupt_skiptoken_is_400(shared_dv):
    dataverse_error(shared_dv.get("cdm_workers?$skiptoken=garbage"), 400, "0x80060888")


# --- single rows ------------------------------------------------------------------------------------


def test_get_by_id_and_by_alternate_key(shared_dv):
    row = _rows(shared_dv, "cdm_worker")[3]
    by_id = shared_dv.get(f"cdm_workers({row['cdm_workerid']})?$select=cdm_workernumber")
    assert by_id.status_code == 200 and by_id.headers["ETag"] == f'W/"{row["versionnumber"]}"'
    body = by_id.json()
    assert body == {
        "@odata.context": shared_dv.api + "$metadata#cdm_workers(cdm_workernumber)/$entity",
        "@odata.etag": f'W/"{row["versionnumber"]}"',
        "cdm_workernumber": row["cdm_workernumber"],
        "cdm_workerid": row["cdm_workerid"],
    }
    by_key = shared_dv.get(f"cdm_workers(cdm_workernumber='{row['cdm_workernumber']}')?$select=cdm_workernumber")
    assert by_key.status_code == 200 and by_key.json() == body


def test_alternate_key_with_quote_escaping(shared_dv):
    company = _rows(shared_dv, "cdm_company")[0]
    resp = shared_dv.get(f"cdm_companies(cdm_companycode='{company['cdm_companycode']}')?$select=cdm_name")
    assert resp.status_code == 200 and resp.json()["cdm_name"] == company["cdm_name"]
    missing = shared_dv.get("cdm_companies(cdm_companycode='O''B')")
    dataverse_error(missing, 404, "0x80040217")
    dataverse_error(shared_dv.get("cdm_companies(cdm_name='x')"), 400, "0x80060888",
           "The requested key attributes do not exist for the entity cdm_company")


def test_missing_row_is_404(shared_dv):
    missing = "00000000-0000-0000-0000-000000000001"
    dataverse_error(shared_dv.get(f"cdm_workers({missing})"), 404, "0x80040217",
           f"cdm_worker With Id = {missing} Does Not Exist")


def test_conditional_get_returns_304_for_current_etag(shared_dv):
    row = _rows(shared_dv, "cdm_job")[0]
    resp = shared_dv.get(f"cdm_jobs({row['cdm_jobid']})", headers={"If-None-Match": f'W/"{row["versionnumber"]}"'})
    assert resp.status_code == 304 and resp.content == b""


def test_single_property(shared_dv):
    row = _rows(shared_dv, "cdm_job")[0]
    resp = shared_dv.get(f"cdm_jobs({row['cdm_jobid']})/cdm_name")
    assert resp.status_code == 200
    assert resp.json() == {"@odata.context": shared_dv.api + f"$metadata#cdm_jobs({row['cdm_jobid']})/cdm_name",
                           "value": row["cdm_name"]}


def test_get_on_an_action_or_batch_is_405(shared_dv):
    dataverse_error(shared_dv.get("bookableresources/Microsoft.Dynamics.CRM.CreateMultiple"), 405, "0x80060888",
           "The HTTP method 'GET' is not supported for the segment 'Microsoft.Dynamics.CRM.CreateMultiple'.")
    dataverse_error(shared_dv.get("$batch"), 405, "0x80060888", "The HTTP method 'GET' is not supported for the segment '$batch'.")
