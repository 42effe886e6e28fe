"""``$apply`` aggregation, ``fetchXml`` with its paging cookie, and the Dataverse query functions, as
HR integrations use them; everything outside the implemented subset is refused, never ignored."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote
from xml.etree import ElementTree as ET

import pytest

NS = "Microsoft.Dynamics.CRM."
JSON = "application/json; odata.metadata=minimal"


def _ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == JSON and resp.headers["OData-Version"] == "4.0"
    return resp.json()


def _workers(dv) -> list[dict]:
    return list(dv.app.store.iter_rows("cdm_worker"))


# --- $apply -----------------------------------------------------------------------------------------


def test_groupby_with_count_and_aggregates(shared_dv):
    body = _ok(shared_dv.get("cdm_employments?$apply=groupby((_cdm_companyid_value),aggregate($count as n,"
                             "cdm_employernoticeamount with sum as total,cdm_employernoticeamount with max as top,"
                             "cdm_employernoticeamount with average as mean,_cdm_workerid_value with countdistinct as workers))"))
    assert body["@odata.context"] == (f"{shared_dv.api}$metadata#cdm_employments(_cdm_companyid_value,n,total,top,"
                                      "mean,workers)")
    rows = list(shared_dv.app.store.iter_rows("cdm_employment"))
    by_company: dict[str, list[dict]] = {}
    for row in rows:
        by_company.setdefault(row.get("cdm_companyid"), []).append(row)
    assert len(body["value"]) == len(by_company)
    for item in body["value"]:
        members = by_company[item["_cdm_companyid_value"]]
        amounts = [m["cdm_employernoticeamount"] for m in members if m.get("cdm_employernoticeamount") is not None]
        assert item["n"] == len(members)
        assert item["workers"] == len({m["cdm_workerid"] for m in members})
        assert item["total"] == pytest.approx(sum(amounts)) if amounts else item["total"] is None
        if amounts:
            assert item["top"] == pytest.approx(max(amounts))
            assert item["mean"] == pytest.approx(sum(amounts) / len(amounts))


def test_aggregate_without_groupby_and_with_filter(shared_dv):
    workers = _workers(shared_dv)
    body = _ok(shared_dv.get("cdm_workers?$apply=filter(statecode eq 0)/aggregate($count as active,"
                             "cdm_birthdate with min as oldest)"))
    active = [w for w in workers if w["statecode"] == 0]
    births = [w["cdm_birthdate"] for w in active if w.get("cdm_birthdate")]
    assert body["value"] == [{"active": len(active), "oldest": min(births)}]


def test_groupby_only_ordered_and_top(shared_dv):
    counts = Counter(w["cdm_type"] for w in _workers(shared_dv))
    body = _ok(shared_dv.get("cdm_workers?$apply=groupby((cdm_type),aggregate($count as n))&$orderby=n desc&$top=1",
                             prefer='odata.include-annotations="OData.Community.Display.V1.FormattedValue"'))
    value, n = counts.most_common(1)[0]
    assert body["value"][0]["cdm_type"] == value and body["value"][0]["n"] == n
    label = shared_dv.app.schema["cdm_worker"].attributes["cdm_type"].options[value]
    assert body["value"][0]["cdm_type@OData.Community.Display.V1.FormattedValue"] == label
    plain = _ok(shared_dv.get("cdm_workers?$apply=groupby((statecode))"))
    assert plain["value"] == [{"statecode": s} for s in sorted({w["statecode"] for w in _workers(shared_dv)})]


def test_aggregate_limit_is_refused_with_dataverse_error(emulator_factory):
    from dataverse_emulator.testing import authenticated_session

    emu = emulator_factory(aggregate_record_limit=10)
    session = authenticated_session(emu.info)
    resp = session.get(emu.info["api_url"] + "cdm_workers?$apply=aggregate($count as n)")
    assert resp.status_code == 400
    assert resp.json() == {"error": {"code": "0x8004E023",
                                     "message": "AggregateQueryRecordLimit exceeded. Cannot perform this operation."}}
    small = session.get(emu.info["api_url"] + "cdm_jobs?$apply=aggregate($count as n)")
    assert small.status_code == 200 and small.json()["value"] == [{"n": emu.app.store.count("cdm_job")}]


@pytest.mark.parametrize("apply,fragment", [
    ("compute(cdm_type add 1 as x)", "compute"),
    ("groupby((cdm_type),aggregate(cdm_type with count as n))", "count"),
    ("groupby((cdm_nope))", "cdm_nope"),
    ("aggregate(cdm_type with sum as a,cdm_type with max as a)", "unique"),
])
def test_unsupported_apply_is_refused(shared_dv, apply, fragment):
    resp = shared_dv.get(f"cdm_workers?$apply={apply}")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "0x80060888"
    assert fragment in resp.json()["error"]["message"]
    both = shared_dv.get("cdm_workers?$apply=aggregate($count as n)&$select=cdm_fullname")
    assert both.status_code == 400


def test_apply_with_track_changes_is_refused(shared_dv):
    resp = shared_dv.get("cdm_workers?$apply=aggregate($count as n)", prefer="odata.track-changes")
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == 'The "$apply" query parameter isn\'t supported when Change Tracking is enabled.'


# --- fetchXml ---------------------------------------------------------------------------------------

COOKIE_PREFER = f'odata.include-annotations="{NS}fetchxmlpagingcookie,{NS}morerecords"'


def _fetch(dv, xml: str, prefer: str | None = COOKIE_PREFER):
    return dv.get(f"cdm_workers?fetchXml={quote(xml)}", prefer=prefer)


def test_fetchxml_pages_with_the_paging_cookie(shared_dv):
    workers = _workers(shared_dv)  # primary-key order, as Dataverse pages
    xml = ('<fetch count="15" page="1"><entity name="cdm_worker"><attribute name="cdm_fullname"/>'
           '<filter><condition attribute="statecode" operator="eq" value="0"/></filter></entity></fetch>')
    expected = [w["cdm_workerid"] for w in workers if w["statecode"] == 0]
    seen: list[str] = []
    page_xml, pages = xml, 0
    while True:
        body = _ok(_fetch(shared_dv, page_xml))
        pages += 1
        seen += [r["cdm_workerid"] for r in body["value"]]
        assert all(set(r) == {"@odata.etag", "cdm_fullname", "cdm_workerid"} for r in body["value"])
        if not body[f"@{NS}morerecords"]:
            assert f"@{NS}fetchxmlpagingcookie" not in body
            break
        cookie = ET.fromstring(body[f"@{NS}fetchxmlpagingcookie"])
        assert cookie.get("istracking") == "False" and cookie.get("pagenumber") == str(pages + 1)
        inner = unquote(unquote(cookie.get("pagingcookie")))
        assert inner.startswith(f'<cookie page="{pages}"><cdm_workerid last="{{') and inner.endswith(" /></cookie>")
        fetch = ET.fromstring(xml)
        fetch.set("paging-cookie", inner)
        fetch.set("page", str(pages + 1))
        page_xml = ET.tostring(fetch, encoding="unicode")
    assert seen == expected and pages == -(-len(expected) // 15)


def test_fetchxml_conditions_orders_and_top(shared_dv):
    workers = _workers(shared_dv)
    names = sorted({w["cdm_lastname"] for w in workers})[:3]
    values = "".join(f"<value>{n}</value>" for n in names)
    xml = ('<fetch top="5"><entity name="cdm_worker"><attribute name="cdm_lastname"/><attribute name="cdm_workernumber"/>'
           '<order attribute="cdm_workernumber" descending="true"/><filter type="or">'
           f'<condition attribute="cdm_lastname" operator="in">{values}</condition>'
           '<filter><condition attribute="cdm_workernumber" operator="like" value="%01"/>'
           '<condition attribute="cdm_birthdate" operator="not-null"/></filter></filter></entity></fetch>')
    body = _ok(_fetch(shared_dv, xml, prefer=None))
    matching = [w for w in workers if w["cdm_lastname"] in names
                or (w["cdm_workernumber"].endswith("01") and w.get("cdm_birthdate"))]
    expected = sorted((w["cdm_workernumber"] for w in matching), reverse=True)[:5]
    assert [r["cdm_workernumber"] for r in body["value"]] == expected
    assert f"@{NS}morerecords" not in body


def test_fetchxml_aggregate(shared_dv):
    xml = ('<fetch aggregate="true"><entity name="cdm_worker"><attribute name="cdm_type" alias="type" groupby="true"/>'
           '<attribute name="cdm_workerid" alias="n" aggregate="count"/>'
           '<attribute name="cdm_birthdate" alias="born" aggregate="countcolumn"/></entity></fetch>')
    body = _ok(_fetch(shared_dv, xml, prefer=None))
    workers = _workers(shared_dv)
    counts = Counter(w["cdm_type"] for w in workers)
    assert {r["type"]: r["n"] for r in body["value"]} == dict(counts)
    assert sum(r["born"] for r in body["value"]) == sum(1 for w in workers if w.get("cdm_birthdate"))


@pytest.mark.parametrize("xml,status,fragment", [
    ('<fetch><entity name="cdm_worker"><link-entity name="cdm_employment" from="cdm_workerid" to="cdm_workerid"/>'
     '</entity></fetch>', 501, "link-entity"),
    ('<fetch><entity name="cdm_job"><attribute name="cdm_name"/></entity></fetch>', 400, "does not match"),
    ('<fetch><entity name="cdm_worker"><attribute name="nope"/></entity></fetch>', 400,
     "doesn't contain attribute with Name = 'nope'"),
    ('<fetch><entity name="cdm_worker"><filter><condition attribute="cdm_fullname" operator="eq-userid"/></filter>'
     '</entity></fetch>', 501, "eq-userid"),
    ('<fetch><entity name="cdm_worker">', 400, "not valid XML"),
])
def test_fetchxml_refusals(shared_dv, xml, status, fragment):
    resp = _fetch(shared_dv, xml)
    assert resp.status_code == status and fragment in resp.json()["error"]["message"], resp.text


# --- query functions --------------------------------------------------------------------------------


def test_in_and_between(shared_dv):
    workers = _workers(shared_dv)
    numbers = [w["cdm_workernumber"] for w in workers[:3]]
    values = ",".join(f"'{n}'" for n in numbers)
    body = _ok(shared_dv.get(f"cdm_workers?$select=cdm_workernumber&$filter={NS}In(PropertyName='cdm_workernumber',"
                             f"PropertyValues=[{values}])"))
    assert sorted(r["cdm_workernumber"] for r in body["value"]) == sorted(numbers)
    alias = _ok(shared_dv.get(f"cdm_workers?$select=cdm_workernumber&$filter={NS}In(PropertyName=@p,PropertyValues=@v)"
                              f"&@p='cdm_workernumber'&@v=[{values}]"))
    assert len(alias["value"]) == 3
    between = _ok(shared_dv.get(f"cdm_workers?$select=cdm_birthdate&$filter={NS}Between(PropertyName='cdm_birthdate',"
                                "PropertyValues=['1970-01-01','1979-12-31'])"))
    expected = sum(1 for w in workers if w.get("cdm_birthdate") and "1970-01-01" <= w["cdm_birthdate"] <= "1979-12-31")
    assert len(between["value"]) == expected > 0


def test_last_x_days_and_on_or_after_use_the_emulator_clock(dv):
    workers = list(dv.app.store.iter_rows("cdm_worker"))
    dv.app.store.update("cdm_worker", workers[0]["cdm_workerid"], {"cdm_profession": "Welder"})
    recent = _ok(dv.get(f"cdm_workers?$select=cdm_fullname&$filter={NS}LastXDays(PropertyName='modifiedon',PropertyValue=1)"))
    assert [r["cdm_workerid"] for r in recent["value"]] == [workers[0]["cdm_workerid"]]
    dv.app.clock.advance(3 * 24 * 3600)
    dv.reauthenticate()
    assert _ok(dv.get(f"cdm_workers?$filter={NS}LastXDays(PropertyName='modifiedon',PropertyValue=1)"))["value"] == []
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    after = _ok(dv.get(f"cdm_workers?$select=cdm_fullname&$filter={NS}OnOrAfter(PropertyName='modifiedon',"
                       f"PropertyValue='{since}')"))
    assert [r["cdm_workerid"] for r in after["value"]] == [workers[0]["cdm_workerid"]]


@pytest.mark.parametrize("fn,status", [("Today(PropertyName='modifiedon')", 501),
                                       ("NoSuchFunction(PropertyName='modifiedon')", 400)])
def test_other_query_functions_are_refused(shared_dv, fn, status):
    resp = shared_dv.get(f"cdm_workers?$filter={NS}{fn}")
    assert resp.status_code == status and resp.json()["error"]["code"] == "0x80060888"


# --- lambda operators -------------------------------------------------------------------------------

EMPLOYMENTS = "cdm_worker_cdm_employment_cdm_workerid"  # collection navigation (UNCONFIRMED name)


def test_any_and_all_on_collection_navigation(shared_dv):
    employments = list(shared_dv.app.store.iter_rows("cdm_employment"))
    workers = _workers(shared_dv)
    by_worker: dict[str, list[dict]] = {}
    for e in employments:
        by_worker.setdefault(e["cdm_workerid"], []).append(e)
    contractor = 754400001

    def ids(query: str) -> set[str]:
        return {r["cdm_workerid"] for r in _ok(shared_dv.get(f"cdm_workers?$select=cdm_fullname&$filter={query}"))["value"]}

    with_contract = {w["cdm_workerid"] for w in workers
                     if any(e.get("cdm_workertype") == contractor for e in by_worker.get(w["cdm_workerid"], []))}
    assert 0 < len(with_contract) < len(workers)  # the data set makes the filter discriminate
    assert ids(f"{EMPLOYMENTS}/any(e:e/cdm_workertype eq {contractor})") == with_contract
    assert ids(f"{EMPLOYMENTS}/any()") == {w["cdm_workerid"] for w in workers if by_worker.get(w["cdm_workerid"])}
    everyone_employee = {w["cdm_workerid"] for w in workers
                         if all(e.get("cdm_workertype") == 754400000 for e in by_worker.get(w["cdm_workerid"], []))}
    assert 0 < len(everyone_employee) < len(workers)
    assert ids(f"{EMPLOYMENTS}/all(e:e/cdm_workertype eq 754400000)") == everyone_employee
    assert ids(f"statecode eq 0 and not {EMPLOYMENTS}/any()") == {
        w["cdm_workerid"] for w in workers if w["statecode"] == 0 and not by_worker.get(w["cdm_workerid"])}
    csdl = shared_dv.get("$metadata").text
    assert f'<NavigationProperty Name="{EMPLOYMENTS}" Type="Collection(mscrm.cdm_employment)" Partner="cdm_WorkerId"/>' in csdl


@pytest.mark.parametrize("query,fragment", [
    ("cdm_fullname/any(e:e eq 'x')", "collection-valued navigation property"),
    ("nosuch_nav/any()", "nosuch_nav"),
    (f"{EMPLOYMENTS}/any(e:e/nope eq 1)", "cdm_employment"),
    (f"{EMPLOYMENTS}/all()", "Expression expected"),
])
def test_lambda_refusals(shared_dv, query, fragment):
    resp = shared_dv.get(f"cdm_workers?$filter={query}")
    assert resp.status_code == 400 and fragment in resp.json()["error"]["message"], resp.text
