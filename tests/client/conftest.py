"""Client-test helpers: settings and clients pointed at the emulator fixture from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dataverse_emulator.testing import client_settings
from hr_dataverse.dataverse import DataverseClient, DataverseSettings


def settings_for(info: dict[str, Any], **overrides: Any) -> DataverseSettings:
    return client_settings(info, **overrides)


@pytest.fixture
def make_settings(emulator: Any) -> Any:
    """``make_settings(**overrides)`` → ``settings_for(emulator.info, **overrides)``."""
    return lambda **overrides: settings_for(emulator.info, **overrides)


@pytest.fixture
def client(emulator: Any) -> Iterator[DataverseClient]:
    with DataverseClient(settings_for(emulator.info)) as c:
        yield c


@pytest.fixture
def make_client(emulator: Any, open_client: Any) -> Any:
    """``make_client(**setting_overrides)`` → a client on the emulator; all are closed afterwards."""
    return lambda **overrides: open_client(settings_for(emulator.info, **overrides))


class TestCertificate:
    """A fresh RSA key with a self-signed certificate, in every form the settings accept."""

    __test__ = False  # not a test class

    def __init__(self) -> None:
        import datetime as dt
        import hashlib

        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        from dataverse_emulator.certs import key_pem, self_signed

        key, cert = self_signed("hr-dataverse-test", valid_for=dt.timedelta(days=30))
        self.password = "pfx-pass-1234"
        self.key_pem = key_pem(key).decode()
        self.encrypted_key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self.password.encode())).decode()
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.sha1 = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
        self.pfx = pkcs12.serialize_key_and_certificates(
            b"test", key, cert, None, serialization.BestAvailableEncryption(self.password.encode()))


@pytest.fixture(scope="session")
def test_certificate() -> TestCertificate:
    return TestCertificate()
