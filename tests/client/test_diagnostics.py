"""diagnose(): one line of cause and one of fix for every failure class."""

from __future__ import annotations

import pytest

from hr_dataverse.dataverse import diagnose
from hr_dataverse.dataverse import errors as e

PRV = ("Principal user (Id=1, type=8, roleCount=1, privilegeCount=3, accessMode=0), is missing "
       "prvReadcdm_worker privilege (Id=2) on OTC=10040 for entity 'cdm_worker'. context.Caller=1")


@pytest.mark.parametrize(
    ("error", "check", "in_cause", "in_fix"),
    [
        (e.AuthError("AADSTS7000215: Invalid client secret provided.", aadsts=7000215),
         "token", "secret's ID", "Value (not the Secret ID)"),
        (e.AuthError("AADSTS7000222: expired", aadsts=7000222), "token", "expired", "Create a new secret"),
        (e.AuthError("AADSTS700016: Application with identifier 'x' was not found", aadsts=700016),
         "token", "not registered/consented", "Directory (tenant) ID"),
        (e.AuthError("AADSTS90002: tenant 'x' was not found", aadsts=90002), "token", "Wrong tenant ID", "consent"),
        (e.AuthError("AADSTS500011: resource principal", aadsts=500011),
         "token", "not a Dataverse environment of this tenant", "Environment URL"),
        (e.AuthError("AADSTS1002012: scope", aadsts=1002012), "token", "scope", "/.default"),
        (e.AuthError("AADSTS70011: scope", aadsts=70011), "token", "scope", "/.default"),
        (e.AuthError("AADSTS7000218: body", aadsts=7000218), "token", "neither a client secret", "certificate"),
        (e.AuthError("AADSTS700027: signature", aadsts=700027), "token", "not registered on the app", "thumbprint"),
        (e.AuthError("AADSTS50034: other", aadsts=50034), "token", "AADSTS50034", "error?code=50034"),
        (e.NotAMember("The user is not a member of the organization.", status=403, code="0x80072560"),
         "application user", "no application user", "Users + permissions → Application users"),
        (e.PermissionDenied(PRV, status=403, code="0x80040220", missing_privilege="prvReadcdm_worker",
                            table="cdm_worker"),
         "privileges", "lacks Read on cdm_worker", "Organization-level Read"),
        (e.PermissionDenied("denied", status=403, code="0x80040220", missing_privilege="prvWritecharacteristic"),
         "privileges", "prvWritecharacteristic", "prvWritecharacteristic"),
        (e.NotFound("Resource not found for the segment 'cdm_workers'.", status=404, code="0x80060888"),
         "table", "'cdm_workers' does not exist", "HCMCommon"),
        (e.NotFound("cdm_worker With Id = 1 Does Not Exist", status=404, code="0x80040217"),
         "table", "Does Not Exist", "row"),
        (e.ChangeTrackingNotEnabled("Entity cdm_workeraddress isn't enabled for change tracking.", status=400),
         "change tracking", "cdm_workeraddress", "Tables → cdm_workeraddress → Properties → Advanced options"),
        (e.DeltaTokenExpired("expired", status=400), "delta token", "expired", "full resync"),
        (e.Throttled("Number of requests exceeded", status=429, retry_after=12), "throttling", "Retry-After 12s",
         "max_concurrency"),
        (e.NetworkError("TLS handshake with h failed", reason="tls"), "network", "TLS", "ca_bundle"),
        (e.NetworkError("connection to h:1 refused", reason="connection_refused"), "network", "refused",
         "environment URL"),
        (e.NetworkError("host h could not be resolved", reason="name_resolution"), "network", "resolved", "DNS"),
        (e.Unauthorized("rejected", status=401, authorization_uri="https://login/x/oauth2/authorize"),
         "token", "https://login/x/oauth2/authorize", "tenant"),
        (e.ConfigError("page_size", "must be between 1 and 5000"), "configuration", "page_size", "page_size"),
        (e.BadRequest("Could not find a property named 'x'", status=400), "request", "property named", "column"),
        (e.ServerError("boom", status=503, request_id="rid-1"), "server", "503", "rid-1"),
        (e.ForeignHostError("refusing to follow https://evil.example"), "paging", "evil.example", "environment_url"),
        (RuntimeError("surprise"), "unknown", "RuntimeError: surprise", "traceback"),
    ],
)
def test_every_failure_class_has_a_cause_and_a_fix(
    error: BaseException, check: str, in_cause: str, in_fix: str
) -> None:
    d = diagnose(error)
    assert d.check == check
    assert in_cause in d.cause and in_fix in d.fix
    assert "\n" not in d.cause + d.fix and d.cause and d.fix
    assert str(d) == f"[{check}] {d.cause} Fix: {d.fix}"
