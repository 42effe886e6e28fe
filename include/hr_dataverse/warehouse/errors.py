"""Warehouse errors: each names the table (and column) concerned; none carries a password."""

from __future__ import annotations


class WarehouseError(Exception):
    """Base class: the warehouse cannot do what was asked (message says what and why)."""


class WarehouseConfigError(WarehouseError):
    """The target URL or settings are unusable (unsupported backend, bad URL, unreachable file)."""


class WarehouseUnavailableError(WarehouseError):
    """The warehouse database cannot be reached now (network, server down); may pass on a retry."""


class SchemaDriftError(WarehouseError):
    """The source changed a column in a way the warehouse table cannot follow (e.g. its type)."""

    def __init__(self, table: str, column: str, problem: str) -> None:
        self.table = table
        self.column = column
        super().__init__(f"table '{table}', column '{column}': {problem}")
