"""DataverseSettings.validate(): every bad input names its field; secrets never reach repr()."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from hr_dataverse.dataverse import CertificateCredential, ConfigError, DataverseSettings

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "Q8~sEcReT-value-not-the-id-0123456789ab"


def make(**overrides: Any) -> DataverseSettings:
    values: dict[str, Any] = {
        "environment_url": "https://contoso.crm.dynamics.com",
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "client_secret": SECRET,
    }
    values.update(overrides)
    return DataverseSettings(**values)


def field_of(settings: DataverseSettings) -> str:
    with pytest.raises(ConfigError) as info:
        settings.validate()
    assert str(info.value).startswith(info.value.field + ": ")
    return info.value.field


def test_valid_settings_and_derived_urls() -> None:
    s = make(environment_url="https://contoso.crm4.dynamics.com/", authority_host="127.0.0.1:8443")
    assert s.validate() is s
    assert s.base_url == "https://contoso.crm4.dynamics.com/api/data/v9.2/"
    assert s.scope == "https://contoso.crm4.dynamics.com/.default"
    assert s.authority == f"https://127.0.0.1:8443/{TENANT}"
    assert make(tenant_id="contoso.onmicrosoft.com").validate().tenant_id == "contoso.onmicrosoft.com"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tenant_id": ""}, "tenant_id"),
        ({"tenant_id": "common"}, "tenant_id"),
        ({"tenant_id": "not a tenant"}, "tenant_id"),
        ({"client_id": ""}, "client_id"),
        ({"client_id": "my-app"}, "client_id"),
        ({"environment_url": ""}, "environment_url"),
        ({"environment_url": "http://contoso.crm.dynamics.com"}, "environment_url"),
        ({"environment_url": "contoso.crm.dynamics.com"}, "environment_url"),
        ({"environment_url": "https://"}, "environment_url"),
        ({"environment_url": "https://contoso.crm.dynamics.com:99999"}, "environment_url"),
        ({"environment_url": "https://contoso.crm.dynamics.com/api/data/v9.2"}, "environment_url"),
        ({"client_secret": None}, "client_secret"),
        ({"authority_host": "https://login.microsoftonline.com/"}, "authority_host"),
        ({"api_version": "9.2"}, "api_version"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
        ({"page_size": 5001}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"timeout": 0}, "timeout"),
        ({"deadline": -1}, "deadline"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ],
)
def test_each_bad_setting_names_its_field(overrides: dict[str, Any], field: str) -> None:
    assert field_of(make(**overrides)) == field


def test_page_size_limit_is_inclusive() -> None:
    assert make(page_size=5000).validate().page_size == 5000


def test_secret_and_certificate_both_is_refused(test_certificate: Any) -> None:
    cert = CertificateCredential(private_key_pem=test_certificate.key_pem, thumbprint=test_certificate.sha1)
    with pytest.raises(ConfigError, match="either a client secret or a certificate") as info:
        make(certificate=cert).validate()
    assert info.value.field == "client_secret"


def test_pem_certificate_needs_a_sha1_thumbprint(test_certificate: Any) -> None:
    good = CertificateCredential(private_key_pem=test_certificate.key_pem, thumbprint=test_certificate.sha1)
    assert make(client_secret=None, certificate=good).validate().certificate is good
    assert good.to_msal()["thumbprint"] == test_certificate.sha1
    bad = dataclasses.replace(good, thumbprint="abc")
    assert field_of(make(client_secret=None, certificate=bad)) == "certificate"


@pytest.mark.parametrize(
    ("cert_kw", "message"),
    [
        ({"private_key_pem": "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"},
         "cannot read the PEM private key"),
        ({"pfx": b"\x30\x82garbage"}, "wrong password or not a PKCS#12"),
        ({"pfx_path": "/nonexistent/app.pfx"}, "cannot read PFX file"),
        ({}, "PEM private key with thumbprint, or PFX"),
    ],
)
def test_unreadable_certificates(cert_kw: dict[str, Any], message: str) -> None:
    cert = CertificateCredential(thumbprint="A" * 40, **cert_kw)
    with pytest.raises(ConfigError, match=message) as info:
        make(client_secret=None, certificate=cert).validate()
    assert info.value.field == "certificate"


def test_pfx_password_is_checked_and_pfx_becomes_pem_plus_certificate(test_certificate: Any, tmp_path: Any) -> None:
    wrong = CertificateCredential(pfx=test_certificate.pfx, password="wrong")
    with pytest.raises(ConfigError, match="wrong password"):
        make(client_secret=None, certificate=wrong).validate()
    path = tmp_path / "app.pfx"
    path.write_bytes(test_certificate.pfx)
    for cert in (CertificateCredential(pfx=test_certificate.pfx, password=test_certificate.password),
                 CertificateCredential(pfx_path=str(path), password=test_certificate.password)):
        msal_credential = cert.to_msal()
        assert msal_credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
        assert msal_credential["public_certificate"].encode() == test_certificate.cert_pem
    mismatch = CertificateCredential(pfx=test_certificate.pfx, password=test_certificate.password, thumbprint="B" * 40)
    with pytest.raises(ConfigError, match="thumbprint does not match"):
        mismatch.to_msal()


def test_encrypted_pem_needs_its_password(test_certificate: Any) -> None:
    locked = CertificateCredential(private_key_pem=test_certificate.encrypted_key_pem, thumbprint=test_certificate.sha1)
    with pytest.raises(ConfigError, match="encrypted: set the certificate password"):
        locked.to_msal()
    unlocked = dataclasses.replace(locked, password=test_certificate.password)
    assert "ENCRYPTED" not in unlocked.to_msal()["private_key"]


def test_repr_never_shows_secrets(test_certificate: Any) -> None:
    s = make()
    assert SECRET not in repr(s) and "***" in repr(s)
    cert = CertificateCredential(pfx=test_certificate.pfx, password=test_certificate.password)
    with_cert = make(client_secret=None, certificate=cert)
    text = repr(with_cert) + str(with_cert)
    assert test_certificate.password not in text
    assert "PRIVATE KEY" not in repr(make(client_secret=None, certificate=CertificateCredential(
        private_key_pem=test_certificate.key_pem, thumbprint=test_certificate.sha1)))


def test_days_until_secret_expiry() -> None:
    s = make(client_secret_expires_on=date(2026, 3, 1))
    assert s.days_until_secret_expiry(today=date(2026, 2, 20)) == 9
    assert s.days_until_secret_expiry(today=date(2026, 3, 3)) == -2
    assert make().days_until_secret_expiry() is None
