"""Change tracking over the wire: initial read, delta links, deltas with updates and deletes, expiry."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from emulator_helpers import dataverse_error

TRACK = "odata.track-changes"
TOKEN_RE = re.compile(r"\$deltatoken=(\d+)%21\d{2}%2f\d{2}%2f\d{4}%20\d{2}%3a\d{2}%3a\d{2}$")


def _follow(dv, url: str, prefer: str | None) -> list[dict]:
    """Every page up to (and including) the one with the deltaLink."""
    pages = []
    while True:
        resp = dv.get(url, prefer=prefer)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages.append(body)
        assert ("@odata.nextLink" in body) != ("@odata.deltaLink" in body)
        if "@odata.deltaLink" in body:
            return pages
        url = body["@odata.nextLink"]


def _initial(dv, select: str = "cdm_fullname", prefer: str = f"{TRACK},odata.maxpagesize=7") -> list[dict]:
    return _follow(dv, f"{dv.api}cdm_workers?$select={select}", prefer)


def test_initial_read_is_paged_and_only_the_last_page_has_the_delta_link(dv):
    first = dv.get("cdm_workers?$select=cdm_fullname", prefer=f"{TRACK},odata.maxpagesize=7")
    assert first.headers["Preference-Applied"] == f"{TRACK},odata.maxpagesize=7"
    pages = _initial(dv)
    rows = [r for p in pages for r in p["value"]]
    assert sorted(r["cdm_workerid"] for r in rows) == sorted(r["cdm_workerid"] for r in dv.app.store.iter_rows("cdm_worker"))
    assert len(rows) == len({r["cdm_workerid"] for r in rows})
    assert all("@odata.deltaLink" not in p for p in pages[:-1]) and len(pages) > 1
    assert pages[0]["@odata.context"] == dv.api + "$metadata#cdm_workers(cdm_fullname)"
    link = pages[-1]["@odata.deltaLink"]
    assert link.startswith(dv.api + "cdm_workers?$select=cdm_fullname&$deltatoken=")
    match = TOKEN_RE.search(link)
    assert match and int(match.group(1)) == dv.app.store.current_version()


def test_next_links_work_without_the_preference_and_re_encoded(dv):
    first = dv.get("cdm_workers?$select=cdm_fullname", prefer=f"{TRACK},odata.maxpagesize=7").json()
    parts = urlsplit(first["@odata.nextLink"])
    url = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(parse_qsl(parts.query))}"
    pages = _follow(dv, url, "odata.maxpagesize=7")  # Drasi sends only maxpagesize
    assert pages[-1]["@odata.deltaLink"].startswith(dv.api + "cdm_workers?$select=cdm_fullname&$deltatoken=")
    total = len(first["value"]) + sum(len(p["value"]) for p in pages)
    assert total == dv.app.store.count("cdm_worker")


def test_rows_changed_during_the_initial_read_come_again_in_the_delta(dv):
    first = dv.get("cdm_workers?$select=cdm_fullname", prefer=f"{TRACK},odata.maxpagesize=7").json()
    changed = first["value"][0]["cdm_workerid"]
    dv.app.store.update("cdm_worker", changed, {"cdm_fullname": "Renamed Meanwhile"})
    pages = _follow(dv, first["@odata.nextLink"], f"{TRACK},odata.maxpagesize=7")
    delta = dv.get(pages[-1]["@odata.deltaLink"]).json()
    assert [r["cdm_fullname"] for r in delta["value"] if r.get("cdm_workerid") == changed] == ["Renamed Meanwhile"]


@pytest.mark.parametrize("option", ["$filter=statecode eq 0", "$orderby=cdm_fullname", "$expand=cdm_foo", "$top=3"])
def test_query_options_refused_with_track_changes(shared_dv, option):
    name = option.split("=")[0]
    resp = shared_dv.get(f"cdm_workers?$select=cdm_fullname&{option}", prefer=TRACK)
    dataverse_error(resp, 400, "0x80060888", f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.')


def test_table_without_change_tracking_is_refused(shared_dv):
    resp = shared_dv.get("cdm_workeraddresses?$select=cdm_city", prefer=TRACK)
    dataverse_error(resp, 400, "0x80072491", "Entity cdm_workeraddress isn't enabled for change tracking.")


def test_delta_with_updates_and_deletes(dv):
    delta_link = _initial(dv)[-1]["@odata.deltaLink"]
    store = dv.app.store
    ids = [r["cdm_workerid"] for r in store.iter_rows("cdm_worker")]
    store.update("cdm_worker", ids[5], {"cdm_fullname": "Second Update"})
    store.delete("cdm_worker", ids[2])
    store.update("cdm_worker", ids[1], {"cdm_fullname": "Third Update"})
    new_id = store.insert("cdm_worker", {"cdm_workernumber": "N1", "cdm_fullname": "New Hire", "cdm_type": 754400000,
                                         "cdm_status": 754400000})
    gone = store.insert("cdm_worker", {"cdm_workernumber": "N2", "cdm_fullname": "Short Stay", "cdm_type": 754400000,
                                       "cdm_status": 754400000})
    store.delete("cdm_worker", gone)

    resp = dv.get(delta_link)  # as-is, no Prefer header (Microsoft's example)
    assert resp.status_code == 200 and "Preference-Applied" not in resp.headers
    body = resp.json()
    assert body["@odata.context"] == dv.api + "$metadata#cdm_workers(cdm_fullname)/$delta"
    changed = [r for r in body["value"] if "reason" not in r]
    deleted = [r for r in body["value"] if "reason" in r]
    assert [r["cdm_workerid"] for r in changed] == [ids[5], ids[1], new_id]  # version order
    assert [r["cdm_fullname"] for r in changed] == ["Second Update", "Third Update", "New Hire"]
    assert all(set(r) == {"@odata.etag", "cdm_fullname", "cdm_workerid"} for r in changed)
    assert body["value"][: len(changed)] == changed  # changed rows first, then deletions
    deleted_context = dv.api + "$metadata#cdm_workers/$deletedEntity"
    assert deleted == [{"@odata.context": deleted_context, "id": ids[2], "reason": "deleted"},
                       {"@odata.context": deleted_context, "id": gone, "reason": "deleted"}]
    assert TOKEN_RE.search(body["@odata.deltaLink"]).group(1) == str(store.current_version())

    empty = dv.get(body["@odata.deltaLink"]).json()
    assert empty["value"] == [] and empty["@odata.context"].endswith("/$delta")
    assert TOKEN_RE.search(empty["@odata.deltaLink"])


def test_delta_pages_pin_the_window(dv):
    delta_link = _initial(dv, prefer=TRACK)[-1]["@odata.deltaLink"]
    store = dv.app.store
    ids = [r["cdm_workerid"] for r in store.iter_rows("cdm_worker")]
    for i in range(10):
        store.update("cdm_worker", ids[i], {"cdm_fullname": f"Changed {i}"})
    for i in range(10, 14):
        store.delete("cdm_worker", ids[i])
    first = dv.get(delta_link, prefer="odata.maxpagesize=6")
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=6"
    body = first.json()
    assert len(body["value"]) == 6 and "@odata.deltaLink" not in body
    store.update("cdm_worker", ids[20], {"cdm_fullname": "After the first page"})  # outside the pinned window
    pages = [body, *_follow(dv, body["@odata.nextLink"], "odata.maxpagesize=6")]
    items = [r for p in pages for r in p["value"]]
    assert [r.get("cdm_workerid") or r["id"] for r in items] == ids[:14]
    assert [len(p["value"]) for p in pages] == [6, 6, 2]
    assert all(p["@odata.context"].endswith("/$delta") for p in pages)
    later = dv.get(pages[-1]["@odata.deltaLink"]).json()
    assert [r["cdm_fullname"] for r in later["value"]] == ["After the first page"]


def test_count_with_delta_token_counts_changes(dv):
    link = _initial(dv, prefer=TRACK)[-1]["@odata.deltaLink"]
    ids = [r["cdm_workerid"] for r in dv.app.store.iter_rows("cdm_worker")]
    dv.app.store.update("cdm_worker", ids[0], {"cdm_fullname": "x"})
    dv.app.store.delete("cdm_worker", ids[1])
    token = urlsplit(link).query.split("$deltatoken=")[1]
    resp = dv.get(f"cdm_workers/$count?$deltatoken={token}")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/plain" and resp.text == "2"


def test_expired_token_asks_for_a_full_sync(dv):
    link = _initial(dv, prefer=TRACK)[-1]["@odata.deltaLink"]
    dv.app.clock.advance(6 * 86400)
    dv.reauthenticate()
    assert dv.get(link).status_code == 200  # still inside the 7-day retention
    dv.app.clock.advance(2 * 86400)
    dv.reauthenticate()
    message = "Version stamp associated with the client has expired. Please perform a full sync."
    dataverse_error(dv.get(link), 400, "0x80044352", message)
    dataverse_error(dv.get(link, prefer=f"{TRACK},odata.maxpagesize=10"), 400, "0x80044352", message)


def test_unreadable_token_asks_for_a_full_sync(shared_dv):
    message = "Version stamp associated with the client has expired. Please perform a full sync."
    dataverse_error(shared_dv.get("cdm_workers?$select=cdm_fullname&$deltatoken=not-a-token"), 400, "0x80044352", message)
