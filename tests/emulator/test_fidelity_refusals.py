"""What Dataverse refuses, the emulator refuses with the same status, code and body shape; what the
emulator does not implement, it refuses rather than ignores (issue 17)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from emulator_helpers import dataverse_error
from test_webapi_batch import batch_body, parse_batch_response, post_batch

from dataverse_emulator.testing import access_token

TRACK = "odata.track-changes"


@pytest.mark.parametrize("option", ["$skip", "$search", "$format", "$compute", "$levels"])
def test_unsupported_system_options_are_refused(shared_dv, option):
    dataverse_error(shared_dv.get(f"cdm_workers?{option}=1"), 400, "0x80060888", f"The query parameter {option} is not supported")


def test_unknown_system_option_is_refused_not_ignored(shared_dv):
    dataverse_error(shared_dv.get("cdm_workers?$nosuch=1"), 400, "0x80060888",
           "The query parameter '$nosuch' begins with a system-reserved '$' character but is not recognized.")
    # The same on a single row and on $count.
    row_id = next(shared_dv.app.store.iter_rows("cdm_worker"))["cdm_workerid"]
    dataverse_error(shared_dv.get(f"cdm_workers({row_id})?$nosuch=1"), 400, "0x80060888")
    dataverse_error(shared_dv.get("cdm_workers/$count?$select=cdm_fullname"), 400, "0x80060888")


@pytest.mark.parametrize("parameter", ["savedQuery", "userQuery", "sql"])
def test_views_are_not_implemented_and_say_so(shared_dv, parameter):
    message = dataverse_error(shared_dv.get(f"cdm_workers?{parameter}=00000000-0000-0000-0000-000000000001"), 501, "0x80060888")
    assert parameter in message


def test_top_above_5000_is_refused(shared_dv):
    dataverse_error(shared_dv.get("cdm_workers?$top=5001"), 400, "0x80060888",
           "The $top query option value 5001 exceeds the maximum of 5000 records that can be returned.")
    assert shared_dv.get("cdm_workers?$top=5000&$select=cdm_fullname").status_code == 200


def test_odata_version_3_is_refused(shared_dv):
    resp = shared_dv.get("cdm_workers?$top=1", headers={"OData-Version": "3.0"})
    dataverse_error(resp, 400, "0x80060888", "The value '3.0' of the OData-Version HTTP header is invalid. Only '4.0' is "
                                    "supported as value for the OData-Version header.")
    resp = shared_dv.get("cdm_workers?$top=1", headers={"OData-MaxVersion": "3.0"})
    dataverse_error(resp, 400, "0x80060888")
    assert shared_dv.get("cdm_workers?$top=1", headers={"OData-MaxVersion": "4.01"}).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_a_body_without_json_content_type_is_refused(dv, method):
    row_id = next(dv.app.store.iter_rows("characteristic"))["characteristicid"]
    before = (dv.app.store.count("characteristic"), dv.app.store.current_version())
    url = dv.api + ("characteristics" if method == "POST" else f"characteristics({row_id})")
    if method == "PUT":
        url += "/description"
    body = b'{"name":"x","characteristictype":1}' if method != "PUT" else b'{"value":"y"}'
    missing = dv.session.request(method, url, data=body, headers={"OData-Version": "4.0"})
    dataverse_error(missing, 400, "0x80060888", "A missing or empty content type header was found when trying to read a "
                                       "message. The content type header is required.")
    wrong = dv.session.request(method, url, data=body, headers={"Content-Type": "text/plain"})
    dataverse_error(wrong, 415, "0x80060888", "The request entity's media type 'text/plain' is not supported for this resource.")
    assert before == (dv.app.store.count("characteristic"), dv.app.store.current_version())  # nothing written


def test_ratelimit_headers_are_in_the_documented_format(shared_dv):
    resp = shared_dv.get("WhoAmI")
    assert re.fullmatch(r"\d+", resp.headers["x-ms-ratelimit-burst-remaining-xrm-requests"])
    # Seconds with a thousands separator and two decimals, as Dataverse writes them ("1,200.00").
    remaining = resp.headers["x-ms-ratelimit-time-remaining-xrm-requests"]
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", remaining), remaining
    assert 1_150 < float(remaining.replace(",", "")) <= 1_200


def test_expired_token_body_is_a_setting(emulator_factory):
    for setting, expect_body in (("error", True), ("empty", False)):
        emu = emulator_factory(expired_token_body=setting)
        session = requests.Session()
        session.trust_env = False
        headers = {"Authorization": f"Bearer {access_token(emu.info)}"}
        emu.app.clock.advance(2 * 3600)
        resp = session.get(emu.info["api_url"] + "WhoAmI", headers=headers, verify=emu.info["ca_bundle"])
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
        if expect_body:
            assert resp.json() == {"error": {"code": "0x80041d52", "message": "The OAuth token has expired"}}
        else:
            assert resp.content == b""


def _initial_link(dv, select: str) -> str:
    url = f"{dv.api}cdm_workers?$select={select}"
    while True:
        page = dv.get(url, prefer=TRACK).json()
        if "@odata.deltaLink" in page:
            return page["@odata.deltaLink"]
        url = page["@odata.nextLink"]


def test_delta_token_reused_with_another_select_or_set_is_refused(dv):
    link = _initial_link(dv, "cdm_fullname")
    token = urlsplit(link).query.split("$deltatoken=")[1]
    assert dv.get(link).status_code == 200
    other_select = dv.get(f"cdm_workers?$select=cdm_workernumber&$deltatoken={token}")
    dataverse_error(other_select, 400, "0x80060888", "The $deltatoken value was issued for another $select; a delta link must "
                                            "be used as returned, with its own $select.")
    other_set = dv.get(f"cdm_jobs?$select=cdm_fullname&$deltatoken={token}")
    assert other_set.status_code == 400
    other_set = dv.get(f"cdm_companies?$deltatoken={token}")
    dataverse_error(other_set, 400, "0x80060888",
           "The $deltatoken value was issued for the entity set 'cdm_workers', not 'cdm_companies'.")
    # $count of changes only needs the right entity set.
    assert dv.get(f"cdm_workers/$count?$deltatoken={token}").status_code == 200


def test_count_with_track_changes_counts_every_page(dv):
    first = dv.get("cdm_workers?$select=cdm_fullname&$count=true", prefer=f"{TRACK},odata.maxpagesize=7")
    body = first.json()
    total = dv.app.store.count("cdm_worker")
    assert list(body)[:2] == ["@odata.context", "@odata.count"] and body["@odata.count"] == total
    second = dv.get(body["@odata.nextLink"]).json()
    assert second["@odata.count"] == total


def test_record_count_is_a_snapshot_retaken_when_old(dv):
    def snapshot() -> int:
        body = dv.get("RetrieveTotalRecordCount(EntityNames=['characteristic'])").json()
        return body["EntityRecordCountCollection"]["Values"][0]

    before = dv.app.store.count("characteristic")
    assert snapshot() == before
    row_id = next(dv.app.store.iter_rows("characteristic"))["characteristicid"]
    dv.app.store.delete("characteristic", row_id)
    assert snapshot() == before  # stale: the snapshot still counts the deleted row
    dv.app.clock.advance(24 * 3600)
    dv.reauthenticate()
    assert snapshot() == before - 1


def test_batch_part_without_content_type_is_refused(dv):
    part = ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "",
            "POST /api/data/v9.2/characteristics HTTP/1.1", "Accept: application/json", "",
            '{"name":"no type","characteristictype":1}']
    before = dv.app.store.count("characteristic")
    resp = post_batch(dv, batch_body(part), prefer="odata.continue-on-error")
    [result] = parse_batch_response(resp)
    assert result["status"] == 400
    assert "content type header is required" in result["body"]
    assert dv.app.store.count("characteristic") == before
