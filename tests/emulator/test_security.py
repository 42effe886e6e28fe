"""Dataverse-side authentication (401/403) and authorization (privileges, field security), pure handler calls."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from dataverse_emulator.clock import Clock
from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.entra import Entra
from dataverse_emulator.http import Headers, Request, Response
from dataverse_emulator.security import DEFAULT_ROLE, Principal, Security

HOST = "https://127.0.0.1:8443"
ENV = HOST
TABLES = ["cdm_worker", "cdm_job", "cdm_workerpersonaldetail", "bookableresource", "bookableresourcecharacteristic"]
URS = ["bookableresource", "bookableresourcecharacteristic"]
OTC_WORKER = 10501


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(seed=11)


@pytest.fixture
def security(entra: Entra, config: EmulatorConfig, clock: Clock) -> Security:
    return Security.with_defaults(entra, config, clock, ENV, TABLES, URS)


def _token(entra: Entra, client_id: str, secret: str, tenant: str, scope: str = f"{ENV}/.default") -> str:
    form = {"client_id": client_id, "client_secret": secret, "grant_type": "client_credentials", "scope": scope}
    req = Request(
        "POST",
        f"/{tenant}/oauth2/v2.0/token",
        headers=Headers({"Content-Type": "application/x-www-form-urlencoded"}),
        body=urlencode(form).encode(),
        scheme_host=HOST,
    )
    resp = entra.handle(req)
    assert resp.status == 200, resp.body
    return json.loads(resp.body)["access_token"]


def _default_token(entra: Entra, config: EmulatorConfig) -> str:
    return _token(entra, config.client_id, config.client_secret, config.tenant_id)


def _api(authorization: str | None, scheme_host: str = HOST) -> Request:
    headers = Headers({"Accept": "application/json", "OData-Version": "4.0"})
    if authorization is not None:
        headers.add("Authorization", authorization)
    return Request("GET", "/api/data/v9.2/WhoAmI", headers=headers, scheme_host=scheme_host)


def _principal(security: Security, entra: Entra, config: EmulatorConfig) -> Principal:
    principal = security.authenticate(_api(f"Bearer {_default_token(entra, config)}"))
    assert isinstance(principal, Principal)
    return principal


def _assert_401(resp: Principal | Response, config: EmulatorConfig) -> Response:
    assert isinstance(resp, Response)
    assert resp.status == 401
    assert resp.headers.get("WWW-Authenticate") == (
        f"Bearer authorization_uri={HOST}/{config.tenant_id}/oauth2/authorize, resource_id={ENV}/"
    )
    return resp


def _error(resp: Principal | Response | None, status: int, code: str) -> str:
    assert isinstance(resp, Response)
    assert resp.status == status
    assert resp.headers.get("OData-Version") == "4.0"
    body = json.loads(resp.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    return body["error"]["message"]


# ------------------------------------------------------------------ authentication


def test_valid_token_gives_stable_hashable_principal(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    first = _principal(security, entra, config)
    second = _principal(security, entra, config)
    assert first == second and hash(first) == hash(second)
    assert first.app_id == config.client_id
    assert first.organization_id == security.organization_id
    assert first.business_unit_id == security.business_unit_id
    assert len({first.user_id, first.organization_id, first.business_unit_id}) == 3
    assert str(uuid.UUID(first.user_id)) == first.user_id


def test_token_for_localhost_alias_is_accepted(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    token = _token(entra, config.client_id, config.client_secret, config.tenant_id, "https://localhost:8443/.default")
    assert isinstance(security.authenticate(_api(f"Bearer {token}", "https://localhost:8443")), Principal)


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt"])
def test_missing_or_malformed_token(security: Security, config: EmulatorConfig, authorization: str | None) -> None:
    resp = _assert_401(security.authenticate(_api(authorization)), config)
    assert resp.body == b""


def test_expired_token(security: Security, entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    token = _default_token(entra, config)
    clock.advance(config.token_lifetime_seconds + config.access_token_leeway_seconds - 1)
    assert isinstance(security.authenticate(_api(f"Bearer {token}")), Principal)  # inside the clock-skew leeway
    clock.advance(2)
    resp = _assert_401(security.authenticate(_api(f"Bearer {token}")), config)
    assert _error(resp, 401, "0x80041d52") == "The OAuth token has expired"


def test_token_signed_by_another_emulator(security: Security, config: EmulatorConfig, clock: Clock) -> None:
    stranger = Entra.with_defaults(config, clock, ENV)
    token = _default_token(stranger, config)
    assert _assert_401(security.authenticate(_api(f"Bearer {token}")), config).body == b""


def test_token_for_another_resource(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    entra.add_resource(config.tenant_id, "https://graph.microsoft.com")
    token = _token(entra, config.client_id, config.client_secret, config.tenant_id, "https://graph.microsoft.com/.default")
    _assert_401(security.authenticate(_api(f"Bearer {token}")), config)


def test_token_from_another_tenant(security: Security, entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    tenant, app = str(uuid.uuid4()), str(uuid.uuid4())
    entra.add_tenant(tenant)
    entra.add_app(tenant, app)
    entra.add_secret(app, "other~secret", expires_at=clock.now() + timedelta(days=1))
    entra.add_resource(tenant, ENV)
    security.add_application_user(app, roles=[DEFAULT_ROLE])
    _assert_401(security.authenticate(_api(f"Bearer {_token(entra, app, 'other~secret', tenant)}")), config)


def test_app_without_application_user(security: Security, entra: Entra, config: EmulatorConfig, clock: Clock) -> None:
    app = str(uuid.uuid4())
    entra.add_app(config.tenant_id, app)
    entra.add_secret(app, "second~secret", expires_at=clock.now() + timedelta(days=1))
    resp = security.authenticate(_api(f"Bearer {_token(entra, app, 'second~secret', config.tenant_id)}"))
    assert _error(resp, 403, "0x80072560") == "The user is not a member of the organization."


def test_removed_application_user(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    security.remove_application_user(config.client_id)
    resp = security.authenticate(_api(f"Bearer {_default_token(entra, config)}"))
    _error(resp, 403, "0x80072560")


# ------------------------------------------------------------------ privileges

_DENIED = re.compile(
    r"^Principal user \(Id=(?P<user>[0-9a-f-]{36}), type=8, roleCount=(?P<roles>\d+), "
    r"privilegeCount=(?P<privs>\d+), accessMode=0\), is missing (?P<prv>\w+) privilege "
    r"\(Id=(?P<prv_id>[0-9a-f-]{36})\) on OTC=(?P<otc>\d+) for entity '(?P<entity>\w+)'\. "
    r"context\.Caller=(?P<caller>[0-9a-f-]{36})$"
)


def _denied(resp: Response | None) -> re.Match[str]:
    match = _DENIED.match(_error(resp, 403, "0x80040220"))
    assert match, resp.body if resp else None
    return match


def test_default_role_reads_hr_and_writes_urs(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    p = _principal(security, entra, config)
    assert security.check_privilege(p, "cdm_worker", "read", object_type_code=OTC_WORKER) is None
    assert security.check_privilege(p, "cdm_worker", "read", object_type_code=OTC_WORKER, organization_level=True) is None
    for action in ("create", "write", "delete"):
        assert security.check_privilege(p, "bookableresourcecharacteristic", action, object_type_code=1) is None


def test_unreadable_table_is_denied(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    p = _principal(security, entra, config)
    assert "cdm_workerpersonaldetail" in config.unreadable_tables
    match = _denied(security.check_privilege(p, "cdm_workerpersonaldetail", "read", object_type_code=10511))
    assert match["prv"] == "prvReadcdm_workerpersonaldetail"
    assert match["entity"] == "cdm_workerpersonaldetail" and match["otc"] == "10511"
    assert match["user"] == match["caller"] == p.user_id
    assert match["roles"] == "1"
    # read+appendto on the 2 readable HR tables, all six actions on the 2 URS tables
    assert int(match["privs"]) == 2 * 2 + 2 * 6


def test_write_on_hr_table_is_denied(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    p = _principal(security, entra, config)
    assert _denied(security.check_privilege(p, "cdm_worker", "write", object_type_code=OTC_WORKER))["prv"] == "prvWritecdm_worker"
    assert _denied(security.check_privilege(p, "cdm_job", "delete", object_type_code=7))["prv"] == "prvDeletecdm_job"
    assert _denied(security.check_privilege(p, "cdm_job", "create", object_type_code=7))["prv"] == "prvCreatecdm_job"


def test_privilege_ids_are_stable(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    p = _principal(security, entra, config)
    a = _denied(security.check_privilege(p, "cdm_job", "write", object_type_code=7))["prv_id"]
    b = _denied(security.check_privilege(p, "cdm_job", "write", object_type_code=7))["prv_id"]
    c = _denied(security.check_privilege(p, "cdm_job", "delete", object_type_code=7))["prv_id"]
    assert a == b != c


def test_change_tracking_needs_organization_depth(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    security.define_role("Own Workers", {"cdm_worker": {"read": "user"}})
    security.define_role("BU Jobs", {"cdm_job": {"read": "businessunit"}})
    security.set_roles(config.client_id, ["Own Workers", "BU Jobs"])
    p = _principal(security, entra, config)
    assert security.check_privilege(p, "cdm_worker", "read", object_type_code=OTC_WORKER) is None
    match = _denied(security.check_privilege(p, "cdm_worker", "read", object_type_code=OTC_WORKER, organization_level=True))
    assert match["prv"] == "prvReadcdm_worker" and match["roles"] == "2" and match["privs"] == "2"
    # The deepest grant across roles wins.
    security.define_role("Org Workers", {"cdm_worker": {"read": "organization"}})
    security.set_roles(config.client_id, ["Own Workers", "Org Workers"])
    assert security.check_privilege(p, "cdm_worker", "read", object_type_code=OTC_WORKER, organization_level=True) is None


def test_user_without_roles_is_denied(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    security.set_roles(config.client_id, [])
    p = _principal(security, entra, config)
    match = _denied(security.check_privilege(p, "cdm_worker", "read", object_type_code=OTC_WORKER))
    assert match["roles"] == "0" and match["privs"] == "0"


def test_invalid_administration_is_refused(security: Security, config: EmulatorConfig) -> None:
    with pytest.raises(ValueError, match="unknown security role"):
        security.set_roles(config.client_id, ["No Such Role"])
    with pytest.raises(ValueError, match="unknown depth"):
        security.define_role("Bad", {"cdm_worker": {"read": "global"}})
    with pytest.raises(ValueError, match="unknown action"):
        security.define_role("Bad", {"cdm_worker": {"export": "user"}})
    with pytest.raises(ValueError, match="unknown field security profile"):
        security.set_field_profiles(config.client_id, ["nope"])
    with pytest.raises(ValueError, match="no application user"):
        security.remove_application_user(str(uuid.uuid4()))


# ------------------------------------------------------------------ field security


def test_default_profile_grants_every_secured_column(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    security.secure_column("cdm_worker", "cdm_birthdate")
    assert security.hidden_columns(_principal(security, entra, config), "cdm_worker") == set()


def test_profiles_decide_hidden_columns(security: Security, entra: Entra, config: EmulatorConfig) -> None:
    security.secure_column("cdm_worker", "cdm_birthdate")
    security.secure_column("cdm_worker", "cdm_nationalid")
    security.secure_column("cdm_job", "cdm_salarygrade")
    security.define_field_profile("Birthdates", {("cdm_worker", "cdm_birthdate")})
    security.set_field_profiles(config.client_id, ["Birthdates"])
    p = _principal(security, entra, config)
    assert security.hidden_columns(p, "cdm_worker") == {"cdm_nationalid"}
    assert security.hidden_columns(p, "cdm_job") == {"cdm_salarygrade"}
    assert security.hidden_columns(p, "bookableresource") == set()
    security.set_field_profiles(config.client_id, [])
    assert security.hidden_columns(p, "cdm_worker") == {"cdm_birthdate", "cdm_nationalid"}
