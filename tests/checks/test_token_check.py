"""Token validation against the emulator over real TLS; every failure is set up in the emulator itself."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hr_dataverse.checks import CheckReport, run_token_check
from hr_dataverse.checks.token_check import audience_matches, discovery_url, verify_signature

DAY = 86400


def entry(report: CheckReport, check: str, target: str | None = None) -> Any:
    found = [e for e in report if e.check == check and (target is None or e.target == target)]
    assert len(found) == 1, f"expected one {check}/{target} entry in {report.log_lines()}"
    return found[0]


def checks_run(report: CheckReport) -> set[str]:
    return {e.check for e in report}


def assert_token_blocker(report: CheckReport, aadsts: int, *, request_id: bool = True) -> Any:
    """The token step is the only blocker, carries the AADSTS code (and Entra's request id when the
    token endpoint answered), and stops the rest."""
    blocker = entry(report, "token")
    assert blocker.status == "blocker" and report.blockers() == [blocker]
    assert blocker.code == f"AADSTS{aadsts}" and bool(blocker.request_id) is request_id
    assert blocker.fix and "\n" not in blocker.cause + blocker.fix
    assert checks_run(report) == {"secret expiry", "token"}
    assert blocker.details["not_run"] == ["token signature", "token claims", "application user", "parallelism"]
    return blocker


def test_correct_setup_passes_every_check(emulator: Any, client_for: Any) -> None:
    info = emulator.info
    report = run_token_check(client_for(emulator))
    assert [e.status for e in report] == ["ok"] * len(report.entries), report.log_lines()
    assert report.status == "ok" and report.blockers() == []
    assert checks_run(report) == {"secret expiry", "token", "token signature", "token claims",
                                  "application user", "parallelism"}
    assert {e.target for e in report if e.check == "token claims"} == {"aud", "tid", "exp", "appid", "iss"}
    assert entry(report, "token claims", "tid").details["tid"] == info["tenant_id"]
    assert entry(report, "token claims", "appid").details["appid"] == info["client_id"]
    signature = entry(report, "token signature")
    assert signature.target.endswith("/discovery/v2.0/keys") and signature.details["alg"] == "RS256"
    who = entry(report, "application user")
    assert who.request_id and uuid.UUID(who.details["user_id"])
    assert emulator.app.security.application_user(info["client_id"]).user_id == who.details["user_id"]
    dop = entry(report, "parallelism")
    assert dop.details["dop_hint"] == emulator.app.config.dop_hint and dop.details["max_concurrency"] == 2
    # The JSON report carries claims, never the token or the secret.
    token = client_for(emulator).tokens.get_token().token
    assert info["client_secret"] not in report.to_json()
    assert token.split(".")[1] not in report.to_json()


def test_secret_id_pasted_instead_of_value_is_7000215(emulator: Any, client_for: Any) -> None:
    secret_id = emulator.info["client_secret_id"]
    report = run_token_check(client_for(emulator, client_secret=secret_id))
    blocker = assert_token_blocker(report, 7000215)
    assert "secret's ID was pasted" in blocker.cause and "Value (not the Secret ID)" in blocker.fix
    assert secret_id not in report.to_json()


def test_expired_secret_is_7000222(emulator: Any, client_for: Any) -> None:
    info = emulator.info
    emulator.app.entra.expire_secret(info["client_id"], info["client_secret_id"])
    blocker = assert_token_blocker(run_token_check(client_for(emulator)), 7000222)
    assert "has expired" in blocker.cause and "rotate it into the connection" in blocker.fix


def test_secret_expired_by_the_passing_of_time_is_7000222(emulator_factory: Any, client_for: Any) -> None:
    emu = emulator_factory(secret_expires_in_days=1)
    assert run_token_check(client_for(emu)).blockers() == []  # valid until the clock moves
    emu.app.clock.advance(2 * DAY)
    assert_token_blocker(run_token_check(client_for(emu)), 7000222)


def test_unknown_tenant_fails_tenant_discovery(emulator: Any, client_for: Any) -> None:
    blocker = assert_token_blocker(run_token_check(client_for(emulator, tenant_id=str(uuid.uuid4()))), 90002,
                                   request_id=False)  # MSAL's discovery error carries no trace id
    assert "Wrong tenant ID" in blocker.cause and "Directory (tenant) ID" in blocker.fix


def test_app_registered_in_another_tenant_is_700016(emulator: Any, client_for: Any) -> None:
    other_tenant = str(uuid.uuid4())
    emulator.app.entra.add_tenant(other_tenant, "fabrikam.onmicrosoft.com")
    # The connection names the other tenant; the app is registered only in the environment's tenant.
    blocker = assert_token_blocker(run_token_check(client_for(emulator, tenant_id=other_tenant)), 700016)
    assert "not registered/consented in this tenant" in blocker.cause


def test_environment_of_another_tenant_is_500011(emulator: Any, client_for: Any) -> None:
    entra = emulator.app.entra
    tenant, app, secret = str(uuid.uuid4()), str(uuid.uuid4()), "Zx8~" + uuid.uuid4().hex
    entra.add_tenant(tenant)
    entra.add_app(tenant, app)
    entra.add_secret(app, secret, expires_at=emulator.app.clock.now() + timedelta(days=90))
    # A working app in a tenant that has no such Dataverse environment.
    report = run_token_check(client_for(emulator, tenant_id=tenant, client_id=app, client_secret=secret))
    blocker = assert_token_blocker(report, 500011)
    assert "not a Dataverse environment of this tenant" in blocker.cause
    assert "Power Platform admin center" in blocker.fix


def test_missing_application_user_is_0x80072560(emulator: Any, client_for: Any) -> None:
    emulator.app.security.remove_application_user(emulator.info["client_id"])
    report = run_token_check(client_for(emulator))
    blocker = entry(report, "application user")
    assert report.blockers() == [blocker]
    assert blocker.code == "0x80072560" and blocker.request_id and blocker.details["http_status"] == 403
    assert "no application user" in blocker.cause and "Application users" in blocker.fix
    assert entry(report, "token signature").status == "ok"  # the token itself is fine
    assert not [e for e in report if e.check == "parallelism"]


def test_secret_expiring_within_warn_days_warns(emulator: Any, client_for: Any) -> None:
    expires = date.today() + timedelta(days=12)
    report = run_token_check(client_for(emulator, client_secret_expires_on=expires))
    warning = entry(report, "secret expiry")
    assert warning.status == "warning" and report.status == "warning" and report.blockers() == []
    assert warning.details == {"expires_on": str(expires), "days_left": 12}
    assert "12 day(s)" in warning.cause and "rotate" in warning.fix
    # The threshold is configurable: 10 days is not "within" 12.
    assert entry(run_token_check(client_for(emulator, client_secret_expires_on=expires), secret_warn_days=10),
                 "secret expiry").status == "ok"


def test_unknown_secret_expiry_warns(emulator: Any, client_for: Any) -> None:
    warning = entry(run_token_check(client_for(emulator, client_secret_expires_on=None)), "secret expiry")
    assert warning.status == "warning" and "client_secret_expires_on" in warning.fix


def test_untrusted_tls_certificate_names_ca_bundle(emulator: Any, client_for: Any) -> None:
    # The environment's REQUESTS_CA_BUNDLE (system CAs) applies: the emulator's private CA is not in it.
    blocker = entry(run_token_check(client_for(emulator, ca_bundle=None)), "token")
    assert blocker.status == "blocker" and blocker.details["diagnosis"] == "network"
    assert "ca_bundle" in blocker.fix and blocker.details["transient"] is False


def test_unexpected_issuer_is_a_claims_blocker(emulator_factory: Any, client_for: Any) -> None:
    emu = emulator_factory(token_issuer_template="https://sts.example.net/{tenant_id}/")
    report = run_token_check(client_for(emu))
    assert [e.target for e in report.blockers()] == ["iss"]
    assert "sts.example.net" in report.blockers()[0].cause
    assert entry(report, "application user").status == "ok"  # Dataverse accepts it; the check does not


def test_forged_token_fails_signature(emulator: Any, client_for: Any) -> None:
    client = client_for(emulator)
    info = emulator.info
    real = client.tokens.get_token().token
    claims = jwt.decode(real, options={"verify_signature": False})
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": jwt.get_unverified_header(real)["kid"]})
    jwks = discovery_url(info["authority_host"], info["tenant_id"]).replace(
        "v2.0/.well-known/openid-configuration", "discovery/v2.0/keys")
    report = CheckReport("t")
    assert verify_signature(report, client, forged, jwks) is None
    assert report.entries[0].status == "blocker" and "signature does not verify" in report.entries[0].cause
    report = CheckReport("t")
    assert verify_signature(report, client, real, jwks)["appid"] == info["client_id"]


@pytest.mark.parametrize(("environment", "aud", "accepted"), [
    ("https://contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com/", True),
    ("https://contoso.crm.dynamics.com/", "https://contoso.api.crm.dynamics.com", True),
    ("https://contoso.api.crm4.dynamics.com", "https://CONTOSO.crm4.dynamics.com", True),
    ("https://contoso.crm.dynamics.com", "https://fabrikam.crm.dynamics.com", False),
    ("https://127.0.0.1:8443", "https://127.0.0.1:8443/", True),
    ("https://127.0.0.1:8443", "https://127.0.0.1:9443", False),
])
def test_audience_forms(environment: str, aud: str, accepted: bool) -> None:
    assert audience_matches(aud, environment) is accepted

