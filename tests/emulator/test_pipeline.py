"""The request pipeline around every Dataverse call: faults, latency, service protection, headers."""

from __future__ import annotations

import time

import pytest
import requests

from dataverse_emulator.testing import authenticated_session


def test_every_dataverse_response_carries_dop_hint_request_id_and_odata_version(dv) -> None:
    resp = dv.get("WhoAmI")
    assert resp.status_code == 200
    assert resp.headers["x-ms-dop-hint"] == str(dv.app.config.dop_hint)
    assert resp.headers["REQ_ID"] == resp.headers["x-ms-service-request-id"]
    assert resp.headers["OData-Version"] == "4.0"
    assert int(resp.headers["x-ms-ratelimit-burst-remaining-xrm-requests"]) < 6000


def test_queued_429_carries_retry_after_and_the_service_protection_body(dv) -> None:
    dv.app.faults.queue(status=429, count=1, retry_after=3)
    resp = dv.get("WhoAmI")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    assert resp.json() == {
        "error": {
            "code": "0x80072322",
            "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        }
    }
    assert dv.get("WhoAmI").status_code == 200  # only the queued request failed


def test_connection_reset_fault_drops_the_connection_without_a_response(dv) -> None:
    dv.app.faults.queue(kind="reset", count=1)
    with pytest.raises(requests.ConnectionError):
        dv.get("WhoAmI")
    assert dv.get("WhoAmI").status_code == 200


def test_truncated_body_fault_sends_less_than_content_length(dv) -> None:
    dv.app.faults.queue(kind="truncate", count=1, path_contains="cdm_workers")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        dv.get("cdm_workers?$select=cdm_workernumber").json()
    assert dv.get("cdm_workers?$select=cdm_workernumber").status_code == 200


def test_latency_model_charges_base_plus_per_row(emulator_factory) -> None:
    emu = emulator_factory(latency_ms=100.0, latency_per_row_ms=2.0)
    session = authenticated_session(emu.info)
    api = emu.info["api_url"]
    started = time.monotonic()
    assert session.get(api + "WhoAmI").status_code == 200
    one = time.monotonic() - started
    started = time.monotonic()
    resp = session.get(
        api + "cdm_workers?$select=cdm_workernumber", headers={"Prefer": "odata.maxpagesize=25"}
    )
    rows = len(resp.json()["value"])
    many = time.monotonic() - started
    assert rows == 25
    assert one >= 0.1
    assert many >= 0.1 + 25 * 0.002
    log = emu.app.request_log.entries()
    assert log[-1].rows == 25


def test_latency_model_is_the_whole_server_time_not_added_to_the_emulators_work(emulator_factory) -> None:
    """A request whose own processing takes 0.4 s under a 0.5 s model answers after ~0.5 s, not 0.9 s."""
    emu = emulator_factory(latency_ms=500.0)
    session = authenticated_session(emu.info)
    handle = emu.app.webapi.handle

    def slow_handle(req, principal):  # stands in for an expensive query
        time.sleep(0.4)
        return handle(req, principal)

    emu.app.webapi.handle = slow_handle
    started = time.monotonic()
    assert session.get(emu.info["api_url"] + "WhoAmI").status_code == 200
    took = time.monotonic() - started
    assert 0.5 <= took < 0.8


def test_hr_profile_refuses_the_501st_request_in_the_window(emulator_factory) -> None:
    emu = emulator_factory(protection_profile="hr")
    session = authenticated_session(emu.info)
    api = emu.info["api_url"]
    limits = emu.app.protection.limits
    assert (limits.requests, limits.concurrent) == (500, 25)
    # Use up the window for real: 500 requests inside 300 s, then the 501st is refused.
    statuses = [session.get(api + "WhoAmI").status_code for _ in range(500)]
    assert set(statuses) == {200}
    resp = session.get(api + "WhoAmI")
    assert resp.status_code == 429
    assert resp.json()["error"]["code"] == "0x80072322"
    assert "limit of 500 over time window of 300 seconds" in resp.json()["error"]["message"]
    assert int(resp.headers["Retry-After"]) >= 1
    # Moving the clock past the window frees it again.
    emu.app.clock.advance(301)
    assert session.get(api + "WhoAmI").status_code == 200


def test_hr_profile_refuses_more_than_25_concurrent_requests(emulator_factory) -> None:
    from concurrent.futures import ThreadPoolExecutor

    emu = emulator_factory(protection_profile="hr", latency_ms=400.0)
    info = emu.info
    sessions = [authenticated_session(info) for _ in range(30)]

    def call(session) -> requests.Response:
        return session.get(info["api_url"] + "WhoAmI")

    with ThreadPoolExecutor(max_workers=30) as pool:
        responses = list(pool.map(call, sessions))
    refused = [r for r in responses if r.status_code == 429]
    assert 1 <= len(refused) <= 5
    assert len([r for r in responses if r.status_code == 200]) >= 25
    body = refused[0].json()["error"]
    assert body == {"code": "0x80072326", "message": "Number of concurrent requests exceeded the limit of 25."}
    assert int(refused[0].headers["Retry-After"]) >= 1


def test_combined_execution_time_limit_answers_429_until_the_window_moves() -> None:
    from dataverse_emulator.clock import Clock
    from dataverse_emulator.protection import Protection

    clock = Clock()
    guard = Protection("hr", clock)
    assert guard.enter("app") is None
    guard.exit("app", 300_000)  # one request that used the whole 5-minute budget
    refused = guard.enter("app")
    assert refused is not None and refused.status == 429
    body = refused.json_payload()["error"]
    assert body["code"] == "0x80072321"
    assert body["message"].startswith("Combined execution time of incoming requests exceeded limit of 300,000  milliseconds")
    assert 1 <= int(refused.headers.get("Retry-After")) <= 301
    clock.advance(301)
    assert guard.enter("other-app") is None  # limits are per user
    assert guard.enter("app") is None
