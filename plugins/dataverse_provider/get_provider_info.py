"""Provider metadata: registers the "Microsoft Dataverse" connection type and its labelled form.

Airflow discovers it through the ``apache_airflow_provider`` entry point in pyproject.toml and reads
the form from ``conn-fields`` without importing the hook (the Airflow 3.2+ way).
"""

from __future__ import annotations

from typing import Any

from hr_dataverse.defaults import DEFAULT_MAX_CONCURRENCY


def _text(label: str, description: str, default: str | None = None, *, secret: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if default is not None:
        schema["default"] = default
    if secret:
        schema["format"] = "password"  # masked in the UI and in logs
    return {"label": label, "description": description, "schema": schema}


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "tenant_id": _text("Tenant ID", "Directory (tenant) ID of the Entra app registration (GUID or domain)."),
    "authority_host": _text(
        "Authority host",
        "Entra login host. login.microsoftonline.com for the public cloud; sovereign clouds and the "
        "local emulator use others (host[:port]).",
        "login.microsoftonline.com",
    ),
    "api_version": _text("API version", "Dataverse Web API version.", "v9.2"),
    "ca_bundle": _text("TLS CA bundle", "Path to a PEM CA bundle to trust (the emulator's ca_bundle). Empty: system CAs."),
    "client_secret_expires_on": {
        "label": "Client secret expires on",
        "description": "Expiry date of the client secret (from the app registration). The token check warns ahead of it.",
        "schema": {"type": ["string", "null"], "format": "date"},
    },
    "certificate_private_key": _text(
        "Certificate private key (PEM)", "Instead of a client secret: the PEM private key of the app's certificate.",
        secret=True,
    ),
    "certificate_thumbprint": _text("Certificate thumbprint", "SHA-1 thumbprint (hex) of the certificate, as shown in Entra."),
    "certificate_pfx_base64": _text(
        "Certificate PFX (base64)", "Instead of a PEM key: the .pfx file, base64-encoded.", secret=True
    ),
    "certificate_pfx_path": _text("Certificate PFX path", "Instead of a PEM key: path to a .pfx file on the workers."),
    "certificate_password": _text("Certificate password", "Password of the PFX file.", secret=True),
    "max_concurrency": {
        "label": "Max concurrent requests",
        "description": "Upper bound on parallel Web API requests for this environment (Dataverse allows 52 per user; the HR service 25).",
        "schema": {"type": ["integer", "null"], "default": DEFAULT_MAX_CONCURRENCY, "minimum": 1, "maximum": 52},
    },
    "fno_url": _text("Finance and operations URL", "For catalog entries read from F&O OData (fno_entity): "
                     "https://<env>.operations.dynamics.com. Same app registration; register it in F&O "
                     "(System administration > Setup > Microsoft Entra applications)."),
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "hr-dataverse-airflow",
        "name": "Microsoft Dataverse (Dynamics 365 HR)",
        "description": "Hook and operators for the Microsoft Dataverse Web API with Entra ID client credentials.",
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "connection-type": "dataverse",
                "hook-class-name": "dataverse_provider.hooks.dataverse.DataverseHook",
                "hook-name": "Microsoft Dataverse",
                "ui-field-behaviour": {
                    "hidden-fields": ["port", "schema", "extra"],
                    "relabeling": {
                        "host": "Environment URL",
                        "login": "Client ID",
                        "password": "Client secret",
                    },
                    "placeholders": {
                        "host": "https://contoso.crm.dynamics.com",
                        "login": "00000000-0000-0000-0000-000000000000",
                        "password": "the secret's Value, not its Secret ID",
                    },
                },
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
