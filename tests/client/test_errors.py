"""from_response(): Dataverse error responses (built in-test) become typed errors with their details."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from hr_dataverse.dataverse import errors as e

URL = "https://contoso.crm.dynamics.com/api/data/v9.2/cdm_workers"
RID = "5b1c3a9e-0000-4000-8000-00000000abcd"
PRV_MESSAGE = (
    "Principal user (Id=3c1f…, type=8, roleCount=1, privilegeCount=12, accessMode=0), is missing "
    "prvReadcdm_workerpersonaldetail privilege (Id=9a…) on OTC=10042 for entity 'cdm_workerpersonaldetail'. "
    "context.Caller=3c1f…"
)


def canned(status: int, body: Any = None, headers: dict[str, str] | None = None, *, raw: bytes | None = None,
           reason: str = "") -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.reason = reason
    resp.url = URL
    resp.headers = CaseInsensitiveDict(headers or {})
    resp._content = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return resp


def dv_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def test_not_a_member_is_a_permission_denied_with_its_code() -> None:
    err = e.from_response(canned(403, dv_error("0x80072560", "The user is not a member of the organization."),
                                 {"REQ_ID": RID}))
    assert type(err) is e.NotAMember and isinstance(err, e.PermissionDenied)
    assert (err.status, err.code, err.request_id) == (403, "0x80072560", RID)
    assert err.message == "The user is not a member of the organization."
    assert str(err) == f"{err.message} (HTTP 403, code 0x80072560, request id {RID})"


def test_missing_privilege_is_parsed() -> None:
    err = e.from_response(canned(403, dv_error("0x80040220", PRV_MESSAGE), {"x-ms-service-request-id": RID}))
    assert type(err) is e.PermissionDenied
    assert err.missing_privilege == "prvReadcdm_workerpersonaldetail"
    assert err.table == "cdm_workerpersonaldetail"
    assert err.request_id == RID


def test_unauthorized_keeps_the_challenge_even_with_an_empty_body() -> None:
    challenge = ("Bearer authorization_uri=https://login.microsoftonline.com/tid/oauth2/authorize, "
                 "resource_id=https://contoso.crm.dynamics.com/")
    err = e.from_response(canned(401, None, {"WWW-Authenticate": challenge}))
    assert type(err) is e.Unauthorized and err.status == 401 and err.code is None
    assert err.authorization_uri == "https://login.microsoftonline.com/tid/oauth2/authorize"
    assert err.resource_id == "https://contoso.crm.dynamics.com/"
    assert "access token" in err.message


@pytest.mark.parametrize(
    ("status", "code", "message", "cls"),
    [
        (404, "0x80060888", "Resource not found for the segment 'cdm_wrokers'.", e.NotFound),
        (400, "0x80060888", "Resource not found for the segment 'cdm_wrokers'.", e.NotFound),
        (404, "0x80040217", "cdm_worker With Id = 1 Does Not Exist", e.NotFound),
        (400, "0x80060888", "Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.cdm_worker'.",
         e.BadRequest),
        (400, "0x80072491", "Entity cdm_workeraddress isn't enabled for change tracking.", e.ChangeTrackingNotEnabled),
        (400, "0x80044352", "Version stamp associated with the client has expired. Please perform a full sync.",
         e.DeltaTokenExpired),
        (500, "0x80040216", "An unexpected error occurred.", e.ServerError),
        (503, "", "The service is temporarily unavailable.", e.ServerError),
        (412, "0x80060882", "The version of the existing record doesn't match", e.DataverseError),
    ],
)
def test_status_and_code_mapping(status: int, code: str, message: str, cls: type) -> None:
    err = e.from_response(canned(status, dv_error(code, message)))
    assert type(err) is cls
    assert err.status == status and err.code == (code or None) and err.message == message and err.url == URL


def test_throttled_reads_retry_after_seconds_and_http_dates() -> None:
    body = dv_error("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
    err = e.from_response(canned(429, body, {"Retry-After": "7"}))
    assert type(err) is e.Throttled and err.retry_after == 7.0 and err.code == "0x80072322"
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    dated = e.from_response(canned(429, body, {"Retry-After": when}))
    assert dated.retry_after is not None and 28 <= dated.retry_after <= 30
    assert e.from_response(canned(429, body)).retry_after is None


def test_non_json_bodies_are_quoted_briefly() -> None:
    html = b"<html><body>" + b"Service Unavailable " * 100 + b"</body></html>"
    err = e.from_response(canned(502, raw=html, reason="Bad Gateway"))
    assert type(err) is e.ServerError and err.code is None
    assert err.message.startswith("<html><body>Service Unavailable") and len(err.message) <= 300
    empty = e.from_response(canned(405, reason="Method Not Allowed"))
    assert empty.message == "Dataverse answered HTTP 405 Method Not Allowed"


def test_request_id_prefers_the_service_header_but_keeps_whatever_is_present() -> None:
    assert e.request_id_of(CaseInsensitiveDict({"REQ_ID": "a", "x-ms-service-request-id": "b"})) == "b"
    assert e.request_id_of(CaseInsensitiveDict({"req_id": "a"})) == "a"
    assert e.request_id_of(CaseInsensitiveDict({})) is None


def test_network_errors_are_classified_without_echoing_the_exception() -> None:
    tls = e.network_error(requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='x', port=443): Max retries exceeded (Caused by SSLError(SSLCertVerificationError("
        "1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate "
        "chain (_ssl.c:1006)')))"), URL)
    assert tls.reason == "tls" and "certificate verify failed: self-signed certificate" in tls.message
    refused = e.network_error(requests.ConnectionError("[Errno 111] Connection refused"), URL)
    assert refused.reason == "connection_refused" and "contoso.crm.dynamics.com" in refused.message
    assert e.network_error(requests.ReadTimeout("read timed out"), URL).reason == "timeout"
