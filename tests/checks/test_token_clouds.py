"""Sovereign clouds: the token check's expected issuers follow the authority host's cloud (public, US
Government GCC High/DoD, China), with the emulator serving each cloud's token shape over real TLS."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from hr_dataverse.checks import run_token_check
from hr_dataverse.checks.clouds import CHINA, PUBLIC, US_GOVERNMENT, cloud_of, cloud_of_environment

TID = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize(("cloud", "issuer_host"), [
    ("public", "sts.windows.net"), ("usgov", "sts.windows.net"), ("china", "sts.chinacloudapi.cn")])
def test_each_clouds_token_passes_the_token_check(emulator_factory: Any, client_for: Any, cloud: str,
                                                  issuer_host: str) -> None:
    emu = emulator_factory(cloud=cloud)
    client = client_for(emu)
    claims = jwt.decode(client.tokens.get_token().token, options={"verify_signature": False})
    assert claims["iss"] == f"https://{issuer_host}/{emu.info['tenant_id']}/"  # the cloud's v1 token shape
    report = run_token_check(client)
    assert report.blockers() == [], report.log_lines()
    iss = next(e for e in report if e.check == "token claims" and e.target == "iss")
    assert iss.status == "ok" and iss.details["cloud"] == cloud


def test_a_public_issuer_from_a_china_login_host_is_a_blocker(emulator_factory: Any, client_for: Any) -> None:
    emu = emulator_factory(cloud="china", token_issuer_template="https://sts.windows.net/{tenant_id}/")
    report = run_token_check(client_for(emu))
    [blocker] = report.blockers()
    assert blocker.target == "iss" and "China cloud (21Vianet)" in blocker.cause
    assert f"https://sts.chinacloudapi.cn/{emu.info['tenant_id']}/" in blocker.details["expected"]


@pytest.mark.parametrize(("authority_host", "cloud", "issuers"), [
    ("login.microsoftonline.com", PUBLIC,
     [f"https://sts.windows.net/{TID}/", f"https://login.microsoftonline.com/{TID}/v2.0"]),
    ("login.microsoftonline.us", US_GOVERNMENT,
     [f"https://sts.windows.net/{TID}/", f"https://login.microsoftonline.us/{TID}/v2.0"]),
    ("login.chinacloudapi.cn", CHINA,
     [f"https://sts.chinacloudapi.cn/{TID}/", f"https://login.chinacloudapi.cn/{TID}/v2.0",
      f"https://login.partner.microsoftonline.cn/{TID}/v2.0"]),
    ("LOGIN.PARTNER.MICROSOFTONLINE.CN", CHINA,
     [f"https://sts.chinacloudapi.cn/{TID}/", f"https://login.partner.microsoftonline.cn/{TID}/v2.0",
      f"https://login.chinacloudapi.cn/{TID}/v2.0"]),
])
def test_issuers_follow_the_authority_host(authority_host: str, cloud: Any, issuers: list[str]) -> None:
    assert cloud_of(authority_host) is cloud
    assert cloud.issuers(TID, authority_host) == issuers


def test_unknown_login_hosts_are_placed_by_discovery_and_environments_by_domain() -> None:
    assert cloud_of("127.0.0.1:8443", {"cloud_instance_name": "microsoftonline.us"}) is US_GOVERNMENT
    assert cloud_of("proxy.example", {"cloud_instance_name": "partner.microsoftonline.cn"}) is CHINA
    assert cloud_of("proxy.example", {}) is PUBLIC
    assert cloud_of_environment("contoso.crm.microsoftdynamics.us") is US_GOVERNMENT  # GCC High
    assert cloud_of_environment("contoso.crm.appsplatform.us") is US_GOVERNMENT  # DoD
    assert cloud_of_environment("contoso.crm.dynamics.cn") is CHINA
    assert cloud_of_environment("contoso.crm9.dynamics.com") is PUBLIC  # GCC (moderate) is public
    assert cloud_of_environment("127.0.0.1") is None
