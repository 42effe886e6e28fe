"""Data defects injected on purpose (``EmulatorConfig.defect_*``), so data-quality checks can be shown
to catch them. All off by default. Each touches ``config.defect_rows`` rows, chosen deterministically:

* ``defect_null_required`` (table, column): the column is left out (null) on the table's last rows;
* ``defect_orphan_employment``: the last employments point at workers that do not exist;
* ``defect_duplicate_business_key`` (table, column): the last n rows copy the value of the row before them;
* ``defect_unknown_option`` (table, column): the last rows hold a value outside the column's option set;
* ``defect_partial_table`` (table): reads (plain and change-tracking initial reads) leave out the
  table's first rows in key order, while ``$count``, ``@odata.count`` and RetrieveTotalRecordCount
  still count them: the table is served only partly.

A column nulled by field security needs no knob: ``app.security.secure_column(table, column)`` plus
``app.security.set_field_profiles(client_id, [])``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .config import EmulatorConfig, stable_uuid

if TYPE_CHECKING:
    from .schema import TableDef
    from .store import Store

Row = dict[str, Any]


def apply_data_defects(rows: dict[str, list[Row]], config: EmulatorConfig, schema: dict[str, TableDef]) -> None:
    """Apply the generation-time defects to freshly generated rows (in place)."""
    n = config.defect_rows
    if config.defect_null_required:
        table, column = _known(schema, config.defect_null_required, "defect_null_required")
        for row in _last(rows, table, n, "defect_null_required"):
            row.pop(column, None)
    if config.defect_orphan_employment:
        for i, row in enumerate(_last(rows, "cdm_employment", n, "defect_orphan_employment")):
            row["cdm_workerid"] = stable_uuid(config.seed, f"orphan-worker-{i}")
    if config.defect_duplicate_business_key:
        table, column = _known(schema, config.defect_duplicate_business_key, "defect_duplicate_business_key")
        first, *others = _last(rows, table, n + 1, "defect_duplicate_business_key")
        for row in others:
            row[column] = first[column]
    if config.defect_unknown_option:
        table, column = _known(schema, config.defect_unknown_option, "defect_unknown_option")
        options = schema[table].attributes[column].options
        if not options:
            raise ValueError(f"defect_unknown_option: {table}.{column} has no option set")
        for row in _last(rows, table, n, "defect_unknown_option"):
            row[column] = max(options) + 1000
    if config.defect_partial_table:
        _known(schema, (config.defect_partial_table, None), "defect_partial_table")


def served_rows(store: Store, config: EmulatorConfig, table: str) -> Callable[[Row], bool] | None:
    """For ``defect_partial_table``: a predicate dropping the withheld rows from reads (None otherwise)."""
    if table != config.defect_partial_table:
        return None
    pk = store.schema[table].primary_id
    withheld = {row[pk] for row in store.page(table, after_id=None, limit=config.defect_rows)}
    return lambda row: row[pk] not in withheld


def both(first: Callable[[Row], bool] | None, second: Callable[[Row], bool] | None) -> Callable[[Row], bool] | None:
    """Two optional row predicates combined with AND."""
    if first is None or second is None:
        return first or second
    return lambda row: first(row) and second(row)


def _known(schema: dict[str, TableDef], target: tuple[str, str | None], knob: str) -> tuple[str, str]:
    table, column = target
    if table not in schema:
        raise ValueError(f"{knob}: unknown table {table!r}")
    if column is not None and column not in schema[table].attributes:
        raise ValueError(f"{knob}: table {table!r} has no column {column!r}")
    return table, column or ""


def _last(rows: dict[str, list[Row]], table: str, n: int, knob: str) -> list[Row]:
    found = rows.get(table) or []
    if len(found) < n:
        raise ValueError(f"{knob}: {table} has {len(found)} rows, fewer than defect_rows={n}")
    return found[-n:]

