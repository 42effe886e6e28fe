"""Errors of the URS mapping that stop a run (row-level Dataverse errors are reported, not raised)."""

from __future__ import annotations


class MappingError(Exception):
    """The mapping cannot run as configured (missing warehouse table, unusable setting, …)."""
