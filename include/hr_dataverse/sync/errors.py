"""Sync errors. Each names the table (and column) concerned, so a failed task says what to fix."""

from __future__ import annotations


class SyncError(Exception):
    """A table cannot be synced as asked (bad mode, bad input, an answer the sync cannot use)."""

    def __init__(self, table: str, problem: str) -> None:
        self.table = table
        super().__init__(f"table '{table}': {problem}")


class UnknownColumnError(SyncError):
    """The catalog selects columns the Dataverse table has never had (a catalog typo or a column
    of another environment). Columns the warehouse already holds are drift, not this error."""

    def __init__(self, table: str, columns: list[str]) -> None:
        self.columns = columns
        names = ", ".join(f"'{c}'" for c in columns)
        super().__init__(table, f"catalog column(s) {names} do not exist in the Dataverse table's metadata "
                                "(fix the catalog entry or remove the column)")
