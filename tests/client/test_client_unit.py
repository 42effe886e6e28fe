"""DataverseClient retry/auth/host rules, paging and change reads against a scripted session (no network)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from hr_dataverse.dataverse import (
    AccessToken,
    DataverseClient,
    DataverseSettings,
    DeltaTokenExpired,
    ForeignHostError,
    NetworkError,
    PermissionDenied,
    ServerError,
    Throttled,
    Unauthorized,
    errors,
    iter_pages,
    read_changes,
)

ENV = "https://contoso.crm.dynamics.com"
BASE = f"{ENV}/api/data/v9.2/"


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
          ) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json; odata.metadata=minimal", **(headers or {})})
    resp._content = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return resp


class ScriptedSession:
    """Answers each request with the next scripted reply (a response, or an exception to raise)."""

    def __init__(self, *script: requests.Response | Exception) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kw: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kw})
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        item.url = url
        return item

    def close(self) -> None:
        pass


class CountingTokens:
    def __init__(self) -> None:
        self.issued = 0
        self.forced = 0

    def get_token(self, force_refresh: bool = False) -> AccessToken:
        if force_refresh or not self.issued:
            self.issued += 1
            self.forced += force_refresh
        return AccessToken(f"token-{self.issued}", 0.0)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make(*script: requests.Response | Exception, **overrides: Any) -> tuple[DataverseClient, ScriptedSession,
                                                                            CountingTokens, FakeTime]:
    settings = DataverseSettings(
        environment_url=ENV, tenant_id="11111111-2222-3333-4444-555555555555",
        client_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", client_secret="s3cr3t-value",
        **{"max_attempts": 4, "deadline": 60.0, "backoff_base": 1.0, "backoff_max": 8.0, **overrides},
    )
    session, tokens, t = ScriptedSession(*script), CountingTokens(), FakeTime()
    client = DataverseClient(settings, token_provider=tokens, session=session,  # type: ignore[arg-type]
                             sleep=t.sleep, clock=t.clock)
    return client, session, tokens, t


WHOAMI = {"UserId": "u", "BusinessUnitId": "b", "OrganizationId": "o"}
THROTTLE = {"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit of 6000."}}


def test_get_sends_the_odata_headers_and_the_token() -> None:
    client, session, _, _ = make(reply(200, WHOAMI, {"x-ms-dop-hint": "8", "REQ_ID": "r1"}))
    assert client.whoami() == WHOAMI
    call = session.calls[0]
    assert (call["method"], call["url"]) == ("GET", BASE + "WhoAmI")
    assert call["headers"] == {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0",
                               "If-None-Match": "null", "Authorization": "Bearer token-1"}
    assert call["allow_redirects"] is False and call["timeout"] == 30.0
    assert client.dop_hint == 8 and client.stats.requests == 1 and client.stats.retries == 0


def test_post_has_no_if_none_match_and_params_are_encoded_readably() -> None:
    client, session, _, _ = make(reply(204))
    resp = client.request("POST", "cdm_workers", json={"a": 1}, params={"$select": "a,b", "$filter": "x eq 'a b'"})
    assert resp.status == 204 and resp.data is None
    call = session.calls[0]
    assert call["url"] == BASE + "cdm_workers?$select=a,b&$filter=x%20eq%20'a%20b'"
    assert "If-None-Match" not in call["headers"] and call["json"] == {"a": 1}


def test_429_waits_exactly_retry_after() -> None:
    client, session, _, t = make(reply(429, THROTTLE, {"Retry-After": "7"}),
                                 reply(429, THROTTLE, {"Retry-After": "3"}), reply(200, WHOAMI))
    assert client.whoami()["UserId"] == "u"
    assert t.sleeps == [7.0, 3.0] and len(session.calls) == 3
    assert (client.stats.throttled_429, client.stats.retries, client.stats.wait_seconds) == (2, 2, 10.0)


def test_429_that_would_pass_the_deadline_raises_at_once() -> None:
    client, session, _, t = make(reply(429, THROTTLE, {"Retry-After": "90"}), deadline=60.0)
    with pytest.raises(Throttled) as info:
        client.whoami()
    assert info.value.retry_after == 90.0 and t.sleeps == [] and len(session.calls) == 1


def test_429_until_attempts_run_out() -> None:
    client, session, _, t = make(*[reply(429, THROTTLE, {"Retry-After": "1"}) for _ in range(3)], max_attempts=3)
    with pytest.raises(Throttled) as info:
        client.whoami()
    assert info.value.attempts == 3 and "after 3 attempts" in str(info.value)
    assert t.sleeps == [1.0, 1.0] and len(session.calls) == 3


def test_503_backs_off_with_full_jitter_then_succeeds() -> None:
    client, session, _, t = make(reply(503, raw=b""), reply(503, raw=b""), reply(200, WHOAMI))
    assert client.whoami() == WHOAMI
    assert len(t.sleeps) == 2 and 0 <= t.sleeps[0] <= 1.0 and 0 <= t.sleeps[1] <= 2.0
    assert len(session.calls) == 3


def test_503_retry_after_is_honoured_when_sent() -> None:
    client, _, _, t = make(reply(503, raw=b"", headers={"Retry-After": "2"}), reply(200, WHOAMI))
    client.whoami()
    assert t.sleeps == [2.0]


def test_5xx_until_attempts_run_out_raises_server_error() -> None:
    client, session, _, _ = make(*[reply(504, raw=b"") for _ in range(4)])
    with pytest.raises(ServerError) as info:
        client.whoami()
    assert info.value.status == 504 and info.value.attempts == 4 and len(session.calls) == 4


def test_non_idempotent_post_is_not_retried_on_502_or_read_failures_but_is_on_503() -> None:
    client, session, _, _ = make(reply(502, raw=b""))
    with pytest.raises(ServerError):
        client.request("POST", "cdm_workers", json={})
    assert len(session.calls) == 1
    client, session, _, _ = make(requests.ReadTimeout("read timed out"))
    with pytest.raises(NetworkError) as info:
        client.request("POST", "cdm_workers", json={})
    assert info.value.reason == "timeout" and len(session.calls) == 1
    client, session, _, _ = make(reply(503, raw=b""), reply(204))
    assert client.request("POST", "cdm_workers", json={}).status == 204 and len(session.calls) == 2
    client, session, _, _ = make(reply(502, raw=b""), reply(204))
    assert client.request("POST", "x/Microsoft.Dynamics.CRM.UpsertMultiple", json={}, idempotent=True).status == 204


def test_connection_failures_and_truncated_bodies_are_retried_for_gets() -> None:
    client, session, _, _ = make(
        requests.ConnectionError("Connection aborted. RemoteDisconnected"),
        requests.exceptions.ChunkedEncodingError("IncompleteRead(10 bytes read, 20 more expected)"),
        reply(200, raw=b'{"value": [1, 2'),  # body cut short without a transport error
        reply(200, WHOAMI),
    )
    assert client.whoami() == WHOAMI and len(session.calls) == 4 and client.stats.retries == 3


def test_tls_failures_are_not_retried() -> None:
    client, session, _, _ = make(requests.exceptions.SSLError("certificate verify failed: self-signed certificate"))
    with pytest.raises(NetworkError) as info:
        client.whoami()
    assert info.value.reason == "tls" and len(session.calls) == 1


def test_401_refreshes_the_token_exactly_once() -> None:
    client, session, tokens, _ = make(reply(401, raw=b""), reply(200, WHOAMI))
    assert client.whoami() == WHOAMI
    assert [c["headers"]["Authorization"] for c in session.calls] == ["Bearer token-1", "Bearer token-2"]
    assert tokens.forced == 1 and client.stats.token_refreshes == 1
    client, session, tokens, _ = make(reply(401, raw=b""), reply(401, raw=b""), reply(200, WHOAMI))
    with pytest.raises(Unauthorized):
        client.whoami()
    assert len(session.calls) == 2 and tokens.forced == 1


@pytest.mark.parametrize("status", [400, 403, 404, 412])
def test_client_errors_are_never_retried(status: int) -> None:
    client, session, _, t = make(reply(status, {"error": {"code": "0x80040220", "message": "no"}}), reply(200, {}))
    with pytest.raises(errors.DataverseError) as info:
        client.whoami()
    assert info.value.status == status and len(session.calls) == 1 and t.sleeps == []
    assert isinstance(info.value, PermissionDenied) == (status == 403)


def test_absolute_links_only_on_the_environment_host() -> None:
    next_link = f"{ENV}:443/api/data/v9.2/cdm_workers?$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E"
    client, session, _, _ = make(reply(200, {"value": []}))
    client.request("GET", next_link)
    assert session.calls[0]["url"] == next_link  # verbatim
    for foreign in ("https://evil.example.com/api/data/v9.2/cdm_workers",
                    "https://contoso.crm.dynamics.com:8443/api/data/v9.2/cdm_workers",
                    "http://contoso.crm.dynamics.com/api/data/v9.2/cdm_workers",
                    "https://contoso.crm.dynamics.com.evil.example/api/data/v9.2/x"):
        with pytest.raises(ForeignHostError):
            client.request("GET", foreign)
    assert len(session.calls) == 1


def test_paging_refuses_a_foreign_next_link_and_a_repeated_one() -> None:
    page = {"value": [{"id": 1}], "@odata.nextLink": "https://evil.example.com/api/data/v9.2/x?$skiptoken=1"}
    client, session, _, _ = make(reply(200, page))
    pages = iter_pages(client, "cdm_workers", page_size=1)
    assert next(pages).rows == [{"id": 1}]
    with pytest.raises(ForeignHostError):
        next(pages)
    assert session.calls[0]["headers"]["Prefer"] == "odata.maxpagesize=1"
    loop = {"value": [], "@odata.nextLink": BASE + "cdm_workers?$skiptoken=same"}
    client, session, _, _ = make(reply(200, loop), reply(200, loop))
    with pytest.raises(errors.PagingError):
        list(iter_pages(client, "cdm_workers", page_size=10, extra_prefer=("odata.include-annotations=\"*\"",)))
    assert [c["headers"]["Prefer"] for c in session.calls] == [
        'odata.include-annotations="*",odata.maxpagesize=10'] * 2
    assert session.calls[1]["url"] == BASE + "cdm_workers?$skiptoken=same"


DELTA = BASE + "cdm_workers?$select=cdm_name&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44"


def test_delta_pages_split_deleted_entities_from_upserts() -> None:
    page = {
        "@odata.context": BASE + "$metadata#cdm_workers(cdm_name)/$delta",
        "@odata.deltaLink": BASE + "cdm_workers?$select=cdm_name&$deltatoken=919058",
        "value": [
            {"@odata.etag": 'W/"915250"', "cdm_name": "New Co", "cdm_workerid": "7a1c"},
            {"@odata.context": BASE + "$metadata#cdm_workers/$deletedEntity", "id": "9d2c", "reason": "deleted"},
        ],
    }
    client, session, _, _ = make(reply(200, page))
    (changes,) = list(read_changes(client, DELTA, page_size=100))
    assert changes.upserts == [page["value"][0]] and changes.deleted_ids == ["9d2c"]
    assert changes.delta_link == page["@odata.deltaLink"] and changes.next_link is None
    assert session.calls[0]["url"] == DELTA  # verbatim, no params added
    assert session.calls[0]["headers"]["Prefer"] == "odata.track-changes,odata.maxpagesize=100"


def test_4xx_on_a_delta_link_means_resync_but_403_and_429_keep_their_types() -> None:
    client, _, _, _ = make(reply(400, {"error": {"code": "0x80060888", "message": "bad $deltatoken"}}))
    with pytest.raises(DeltaTokenExpired) as info:
        list(read_changes(client, DELTA))
    assert (info.value.status, info.value.code) == (400, "0x80060888") and "full resync" in info.value.message
    denied = {"error": {"code": "0x80040220", "message": "is missing prvReadcdm_worker privilege"}}
    client, _, _, _ = make(reply(403, denied))
    with pytest.raises(PermissionDenied):
        list(read_changes(client, DELTA))
    client, _, _, _ = make(reply(429, THROTTLE, {"Retry-After": "600"}))
    with pytest.raises(Throttled):
        list(read_changes(client, DELTA))


def test_select_with_a_delta_link_is_refused() -> None:
    client, session, _, _ = make()
    with pytest.raises(ValueError, match="delta link"):
        next(read_changes(client, DELTA, select=["cdm_name"]))
    assert session.calls == []
