"""Finance and operations OData fallback: HR data entities Dataverse does not surface (client,
entity shape from ``$metadata``, full reload under the short-read guard)."""

from __future__ import annotations

from .client import FnoClient, FnoError, FnoSettings
from .guard import short_read
from .reload import sync_fno_entity

__all__ = ["FnoClient", "FnoError", "FnoSettings", "short_read", "sync_fno_entity"]
