"""Dataverse Web API client: Entra auth, retrying transport, paging, change tracking, metadata."""

from __future__ import annotations

from .auth import AccessToken, TokenProvider
from .changes import ChangePage, read_changes
from .diagnostics import Diagnosis, diagnose
from .errors import (
    AuthError,
    BadRequest,
    ChangeTrackingNotEnabled,
    ConfigError,
    DataverseError,
    DeltaTokenExpired,
    ForeignHostError,
    NetworkError,
    NotAMember,
    NotFound,
    PagingError,
    PermissionDenied,
    ServerError,
    Throttled,
    Unauthorized,
    from_response,
)
from .metadata import AttributeInfo, EntityInfo, count, get_entity, lookup_targets, total_record_count
from .paging import Page, iter_pages
from .settings import CertificateCredential, DataverseSettings
from .transport import DataverseClient, Response, TransportStats

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
