"""Connection settings for one Dataverse environment, validated before any network call."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from ..defaults import DEFAULT_MAX_CONCURRENCY
from .errors import ConfigError
from .odata import is_guid

MAX_PAGE_SIZE = 5000  # Dataverse never returns more rows per page
_AUTHORITY_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_API_VERSION = re.compile(r"^v\d+\.\d+$")
_THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
# Client-credential tokens must come from one tenant; these aliases only work for user sign-in.
_MULTI_TENANT_ALIASES = {"common", "organizations", "consumers"}


@dataclass(frozen=True)
class CertificateCredential:
    """Certificate for the client-assertion flow: a PEM private key plus its SHA-1 thumbprint
    (hex, as the app registration shows it), or a PFX (bytes or path) with its password.

    ``password`` also decrypts an encrypted PEM key.
    """

    private_key_pem: str | None = None
    thumbprint: str | None = None
    pfx: bytes | None = None
    pfx_path: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        kind = "pem" if self.private_key_pem else "pfx"
        return f"CertificateCredential({kind}, thumbprint={self.thumbprint!r})"

    def to_msal(self) -> dict[str, str]:
        """MSAL ``client_credential`` dict. Raises ``ConfigError('certificate', …)`` when unusable.

        A PFX is opened here (MSAL only reads PFX from a path) and handed over as PEM key plus
        public certificate, so MSAL signs with PS256 and the SHA-256 thumbprint.
        """
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        password = self.password.encode() if self.password else None
        if self.private_key_pem:
            if self.pfx or self.pfx_path:
                raise ConfigError("certificate", "give either a PEM private key or a PFX, not both")
            thumb = (self.thumbprint or "").replace(":", "").replace(" ", "")
            if not _THUMBPRINT.match(thumb):
                raise ConfigError("certificate", "thumbprint must be the certificate's 40-hex-digit SHA-1 "
                                                 "thumbprint as shown on the app registration")
            key = _load_pem_key(self.private_key_pem, password)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
            return {"private_key": pem, "thumbprint": thumb.upper()}
        data = self.pfx
        if data is None and self.pfx_path:
            try:
                with open(self.pfx_path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                raise ConfigError("certificate", f"cannot read PFX file {self.pfx_path!r}: {exc.strerror}") from None
        if not data:
            raise ConfigError("certificate", "give a PEM private key with thumbprint, or PFX bytes/path")
        try:
            key, cert, _ = pkcs12.load_key_and_certificates(data, password)
        except ValueError:
            raise ConfigError("certificate", "cannot open the PFX: wrong password or not a PKCS#12 file") from None
        if key is None or cert is None:
            raise ConfigError("certificate", "the PFX must contain both the private key and the certificate")
        if self.thumbprint:
            sha1 = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
            if sha1.lower() != self.thumbprint.replace(":", "").replace(" ", "").lower():
                raise ConfigError("certificate", f"thumbprint does not match the PFX certificate ({sha1.upper()})")
        return {
            "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode(),
            "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
        }


def _load_pem_key(pem: str, password: bytes | None) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(pem.encode(), password)
    except TypeError:
        raise ConfigError("certificate", "the PEM private key is encrypted: set the certificate password"
                          if password is None else "the PEM private key is not encrypted: remove the password") from None
    except ValueError:
        raise ConfigError("certificate", "cannot read the PEM private key (malformed, or wrong password)") from None


@dataclass(frozen=True)
class DataverseSettings:
    """Everything needed to reach one environment.

    :param environment_url: environment root, e.g. ``https://contoso.crm.dynamics.com`` (https only,
        no path); the token scope is ``<environment_url>/.default``.
    :param authority_host: Entra login host, optionally with a port (the local emulator).
    :param ca_bundle: CA bundle path for TLS verification; None uses the system store.
    :param client_secret_expires_on: when the secret expires (from the app registration) so a
        pipeline can warn before it does.
    :param timeout: seconds per HTTP request.
    :param max_attempts: attempts per request for 429/5xx/connection failures (token refresh on 401
        is extra).
    :param deadline: seconds after which a request stops retrying, whatever ``max_attempts`` says.
    :param backoff_base: first backoff ceiling in seconds for 5xx/connection failures (full jitter,
        doubling per attempt, capped at ``backoff_max``).
    :param max_concurrency: connection-pool size; callers run at most this many requests at once.
    """

    environment_url: str
    tenant_id: str
    client_id: str
    client_secret: str | None = None
    certificate: CertificateCredential | None = None
    authority_host: str = "login.microsoftonline.com"
    api_version: str = "v9.2"
    ca_bundle: str | None = None
    client_secret_expires_on: date | None = None
    timeout: float = 30.0
    max_attempts: int = 5
    deadline: float = 300.0
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    page_size: int = MAX_PAGE_SIZE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    def __repr__(self) -> str:
        secret = "***" if self.client_secret else None
        return (
            f"DataverseSettings(environment_url={self.environment_url!r}, tenant_id={self.tenant_id!r}, "
            f"client_id={self.client_id!r}, client_secret={secret!r}, certificate={self.certificate!r}, "
            f"authority_host={self.authority_host!r}, api_version={self.api_version!r})"
        )

    @property
    def environment_root(self) -> str:
        return self.environment_url.rstrip("/")

    @property
    def base_url(self) -> str:
        return f"{self.environment_root}/api/data/{self.api_version}/"

    @property
    def scope(self) -> str:
        return f"{self.environment_root}/.default"

    @property
    def authority(self) -> str:
        return f"https://{self.authority_host}/{self.tenant_id}"

    def days_until_secret_expiry(self, today: date | None = None) -> int | None:
        """Days left on the client secret (negative once expired); None when unknown."""
        if self.client_secret_expires_on is None or not self.client_secret:
            return None
        return (self.client_secret_expires_on - (today or date.today())).days

    def validate(self) -> DataverseSettings:
        """Raise ``ConfigError(field, message)`` for the first problem found; return self if fine."""
        self._validate_url()
        self._validate_identity()
        self._validate_credential()
        if not _AUTHORITY_HOST.match(self.authority_host or ""):
            raise ConfigError("authority_host", f"expected a host name with optional :port, got {self.authority_host!r}"
                              " (no scheme or path)")
        if not _API_VERSION.match(self.api_version or ""):
            raise ConfigError("api_version", f"expected a version like 'v9.2', got {self.api_version!r}")
        if self.ca_bundle is not None and not os.access(self.ca_bundle, os.R_OK):
            raise ConfigError("ca_bundle", f"CA bundle {self.ca_bundle!r} does not exist or is not readable")
        for name in ("timeout", "deadline", "backoff_base", "backoff_max"):
            if not getattr(self, name) > 0:
                raise ConfigError(name, f"must be a positive number of seconds, got {getattr(self, name)!r}")
        if self.max_attempts < 1:
            raise ConfigError("max_attempts", f"must be at least 1, got {self.max_attempts}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ConfigError("page_size", f"must be between 1 and {MAX_PAGE_SIZE} (Dataverse's page limit), "
                                           f"got {self.page_size}")
        if self.max_concurrency < 1:
            raise ConfigError("max_concurrency", f"must be at least 1, got {self.max_concurrency}")
        return self

    def _validate_url(self) -> None:
        url = (self.environment_url or "").strip()
        if not url:
            raise ConfigError("environment_url", "missing; expected e.g. https://contoso.crm.dynamics.com")
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise ConfigError("environment_url", f"must be an https:// URL, got {url!r}")
        try:
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ConfigError("environment_url", f"malformed port in {url!r}") from None
        if not parts.hostname:
            raise ConfigError("environment_url", f"no host name in {url!r}")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ConfigError("environment_url", f"give the environment root only (e.g. https://{parts.netloc}), "
                                                 f"without path or query; got {url!r}")

    def _validate_identity(self) -> None:
        tenant = (self.tenant_id or "").strip()
        if not tenant:
            raise ConfigError("tenant_id", "missing; use the Directory (tenant) ID from the app registration")
        if tenant.lower() in _MULTI_TENANT_ALIASES:
            raise ConfigError("tenant_id", f"{tenant!r} cannot issue app-only tokens; give the tenant's GUID or domain")
        if not (is_guid(tenant) or _DOMAIN.match(tenant)):
            raise ConfigError("tenant_id", f"expected a GUID or a domain like contoso.onmicrosoft.com, got {tenant!r}")
        if not (self.client_id or "").strip():
            raise ConfigError("client_id", "missing; use the Application (client) ID from the app registration")
        if not is_guid(self.client_id.strip()):
            raise ConfigError("client_id", f"expected the Application (client) ID GUID, got {self.client_id!r}")

    def _validate_credential(self) -> None:
        if self.client_secret and self.certificate:
            raise ConfigError("client_secret", "set either a client secret or a certificate, not both")
        if not self.client_secret and not self.certificate:
            raise ConfigError("client_secret", "missing: set a client secret or a certificate")
        if self.certificate:
            self.certificate.to_msal()
