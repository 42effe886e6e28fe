"""Dataverse Web API client: Entra auth, retrying transport, paging, change tracking, metadata.

Names below are loaded on first use, so importing a light module of this package (``settings``,
``odata``, ``errors``) loads neither msal nor requests.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AccessToken": "auth", "TokenProvider": "auth", "ChangePage": "changes", "read_changes": "changes",
    "Diagnosis": "diagnostics", "diagnose": "diagnostics", "AuthError": "errors", "BadRequest": "errors",
    "ChangeTrackingNotEnabled": "errors", "ConfigError": "errors", "DataverseError": "errors",
    "DeltaTokenExpired": "errors", "ForeignHostError": "errors", "NetworkError": "errors",
    "NotAMember": "errors", "NotFound": "errors", "PagingError": "errors", "PermissionDenied": "errors",
    "ServerError": "errors", "Throttled": "errors", "Unauthorized": "errors", "from_response": "errors",
    "AttributeInfo": "metadata", "EntityInfo": "metadata", "count": "metadata", "get_entity": "metadata",
    "lookup_targets": "metadata", "total_record_count": "metadata", "Page": "paging",
    "iter_pages": "paging", "CertificateCredential": "settings", "DataverseSettings": "settings",
    "DataverseClient": "transport", "Response": "transport", "TransportStats": "transport",
}
__all__ = [
    "AccessToken",
    "AttributeInfo",
    "AuthError",
    "BadRequest",
    "CertificateCredential",
    "ChangePage",
    "ChangeTrackingNotEnabled",
    "ConfigError",
    "DataverseClient",
    "DataverseError",
    "DataverseSettings",
    "DeltaTokenExpired",
    "Diagnosis",
    "EntityInfo",
    "ForeignHostError",
    "NetworkError",
    "NotAMember",
    "NotFound",
    "Page",
    "PagingError",
    "PermissionDenied",
    "Response",
    "ServerError",
    "Throttled",
    "TokenProvider",
    "TransportStats",
    "Unauthorized",
    "count",
    "diagnose",
    "from_response",
    "get_entity",
    "lookup_targets",
    "iter_pages",
    "read_changes",
    "total_record_count",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
