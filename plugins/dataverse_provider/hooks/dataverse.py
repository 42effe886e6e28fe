"""Airflow hook for the Microsoft Dataverse Web API (connection type ``dataverse``).

Connection fields (the labelled form comes from ``get_provider_info``):

* host: environment URL, e.g. ``https://contoso.crm.dynamics.com`` (``https://`` is assumed when
  missing; a port in the port field is appended);
* login: Application (client) ID; password: client secret (its Value, not its Secret ID);
* extra: ``tenant_id`` (required), ``authority_host``, ``api_version``, ``ca_bundle``,
  ``client_secret_expires_on`` (YYYY-MM-DD), ``max_concurrency``, and instead of a secret a
  certificate: ``certificate_private_key`` + ``certificate_thumbprint``, or
  ``certificate_pfx_base64`` / ``certificate_pfx_path`` + ``certificate_password``; ``fno_url``
  (the finance-and-operations environment, for catalog entries read from F&O OData, see
  ``hr_deployment.fno_tasks``).

The same works as ``AIRFLOW_CONN_DATAVERSE_DEFAULT='{"conn_type": "dataverse", "host": …,
"login": …, "password": …, "extra": {"tenant_id": …}}'``.

msal/requests are imported only when a client is built, so importing this module stays cheap.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from dataverse_provider.log_safety import guard_mask_requests

if TYPE_CHECKING:
    from hr_dataverse.dataverse import DataverseClient, DataverseSettings

# Settings field → where the user sets it in the connection form (errors name the form field).
FIELD_LABELS = {
    "environment_url": "Environment URL (host)",
    "client_id": "Client ID (login)",
    "client_secret": "Client secret (password)",
    "tenant_id": "Tenant ID (extra tenant_id)",
    "authority_host": "Authority host (extra authority_host)",
    "api_version": "API version (extra api_version)",
    "ca_bundle": "TLS CA bundle (extra ca_bundle)",
    "client_secret_expires_on": "Client secret expires on (extra client_secret_expires_on)",
    "certificate": "Certificate (extra certificate_private_key/certificate_thumbprint or "
                   "certificate_pfx_base64/certificate_pfx_path/certificate_password)",
    "max_concurrency": "Max concurrent requests (extra max_concurrency)",
    "fno_url": "Finance and operations URL (extra fno_url)",
}
# Extra keys whose values are credentials: registered with the log masker as soon as they are read.
SECRET_EXTRAS = ("certificate_private_key", "certificate_pfx_base64", "certificate_password")


class DataverseHook(BaseHook):
    """Builds a :class:`DataverseClient` (MSAL tokens, retrying transport) from an Airflow connection.

    :param dataverse_conn_id: connection id, ``dataverse_default`` unless given.
    """

    conn_name_attr = "dataverse_conn_id"
    default_conn_name = "dataverse_default"
    conn_type = "dataverse"
    hook_name = "Microsoft Dataverse"

    def __init__(self, dataverse_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.dataverse_conn_id = dataverse_conn_id
        self._client: DataverseClient | None = None

    def get_settings(self) -> DataverseSettings:
        """Validated settings; raises ``ConfigError`` whose ``field`` names the connection field."""
        from hr_dataverse.dataverse import CertificateCredential, ConfigError, DataverseSettings

        guard_mask_requests()  # reading the connection registers its secrets (log_safety)
        conn = self.get_connection(self.dataverse_conn_id)
        extra = conn.extra_dejson
        _mask_credentials(conn.password, *(extra.get(k) for k in SECRET_EXTRAS))
        try:
            optional = {
                "authority_host": _text(extra.get("authority_host")),
                "api_version": _text(extra.get("api_version")),
                "ca_bundle": _text(extra.get("ca_bundle")),
                "client_secret_expires_on": _date(extra.get("client_secret_expires_on")),
                "max_concurrency": _positive_int(extra.get("max_concurrency"), "max_concurrency"),
            }
            settings = DataverseSettings(
                environment_url=_environment_url(conn.host, conn.port),
                tenant_id=_text(extra.get("tenant_id")) or "",
                client_id=_text(conn.login) or "",
                client_secret=_text(conn.password),
                certificate=_certificate(extra, CertificateCredential),
                **{k: v for k, v in optional.items() if v is not None},  # unset: the settings' defaults
            )
            return settings.validate()
        except ConfigError as exc:
            label = FIELD_LABELS.get(exc.field, exc.field)
            raise ConfigError(label, f"{exc.reason} (connection '{self.dataverse_conn_id}')") from None

    def get_conn(self) -> DataverseClient:
        """The hook's client, built once; access tokens are masked in logs as they are fetched."""
        if self._client is None:
            from airflow.sdk.log import mask_secret

            from hr_dataverse.dataverse import DataverseClient

            self._client = DataverseClient(self.get_settings(), on_new_token=mask_secret)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def test_connection(self) -> tuple[bool, str]:
        """WhoAmI through the connection: (True, who) or (False, one line of cause and fix)."""
        from hr_dataverse.dataverse import DataverseError, diagnose

        try:
            who = self.get_conn().whoami() or {}
        except DataverseError as exc:
            return False, str(diagnose(exc))
        finally:
            self.close()
        return True, (f"Connected: application user {who.get('UserId')} in organization "
                      f"{who.get('OrganizationId')}.")


def connection_source(conn_id: str) -> str:
    """Where Airflow takes connection ``conn_id`` from. Its lookup order is: a configured secrets
    backend, then environment variables (``AIRFLOW_CONN_<ID>``), then the metadata database (Admin →
    Connections), so an environment variable silently shadows a connection saved in the UI."""
    import os

    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    if os.environ.get(name):
        return (f"environment variable {name} (it takes precedence over a connection of the same id saved "
                "in the UI; unset it to use that one)")
    return "a secrets backend or the Airflow metadata database (Admin → Connections)"


def _mask_credentials(*values: Any) -> None:
    from airflow.sdk.log import mask_secret

    for value in values:
        if isinstance(value, str) and value.strip():
            mask_secret(value)


def _text(value: Any) -> str | None:
    """Stripped string, or None for missing/blank (the UI stores empty fields as '')."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _config_error(field: str, message: str) -> Exception:
    from hr_dataverse.dataverse import ConfigError

    return ConfigError(field, message)


def _environment_url(host: str | None, port: int | None) -> str:
    """``host`` with ``https://`` assumed and the port field appended; validation happens later."""
    url = _text(host) or ""
    if url and "://" not in url:
        url = f"https://{url}"
    if url and port:
        parts = urlsplit(url)
        if parts.port is None and parts.hostname:
            url = f"{parts.scheme}://{parts.hostname}:{port}{parts.path}"
    return url.rstrip("/")


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date() if "T" in text else date.fromisoformat(text)
    except ValueError:
        raise _config_error("client_secret_expires_on", f"expected a date like 2026-12-31, got {text!r}") from None


def _positive_int(value: Any, field: str) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = int(text)
    except ValueError:
        raise _config_error(field, f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise _config_error(field, f"must be at least 1, got {number}")
    return number


def _certificate(extra: dict[str, Any], credential_cls: Any) -> Any:
    """A ``CertificateCredential`` when any certificate field is set, else None."""
    key = _text(extra.get("certificate_private_key"))
    pfx_b64 = _text(extra.get("certificate_pfx_base64"))
    pfx_path = _text(extra.get("certificate_pfx_path"))
    if not (key or pfx_b64 or pfx_path):
        return None
    pfx = None
    if pfx_b64:
        try:
            pfx = base64.b64decode("".join(pfx_b64.split()), validate=True)
        except (binascii.Error, ValueError):
            raise _config_error("certificate", "certificate_pfx_base64 is not valid base64") from None
    return credential_cls(
        private_key_pem=key.replace("\\n", "\n") if key else None,  # one-line env-var JSON escapes newlines
        thumbprint=_text(extra.get("certificate_thumbprint")),
        pfx=pfx,
        pfx_path=pfx_path,
        password=_text(extra.get("certificate_password")),
    )
