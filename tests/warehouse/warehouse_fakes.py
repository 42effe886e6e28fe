"""Test data for the warehouse tests: a table using every storage kind and wire rows for it.

Also imported by ``warehouse_child.py`` (the process the crash test kills), so it has no pytest imports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hr_dataverse.catalog import TableSpec
from hr_dataverse.warehouse import ColumnSpec, Warehouse

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
TABLE = "cdm_worker"
TYPE_OPTIONS = {754400000: "Employee", 754400001: "Contractor"}
STATE_OPTIONS = {0: "Active", 1: "Inactive"}

SPEC = TableSpec(
    name=TABLE,
    primary_key="cdm_workerid",
    columns=("cdm_workerid", "cdm_workernumber", "cdm_description", "cdm_dependents", "versionnumber", "cdm_fte",
             "cdm_salary", "cdm_score", "cdm_isactive", "modifiedon", "cdm_birthdate", "_cdm_companyid_value",
             "cdm_type", "statecode"),
    required_columns=("cdm_workerid", "cdm_workernumber"),
    lookups=("cdm_companyid",),
    option_sets=("cdm_type", "statecode"),
)
COLUMNS = [
    ColumnSpec("cdm_workerid", "Uniqueidentifier"),
    ColumnSpec("cdm_workernumber", "String"),
    ColumnSpec("cdm_description", "Memo"),
    ColumnSpec("cdm_dependents", "Integer"),
    ColumnSpec("versionnumber", "BigInt"),
    ColumnSpec("cdm_fte", "Decimal"),
    ColumnSpec("cdm_salary", "Money"),
    ColumnSpec("cdm_score", "Double"),
    ColumnSpec("cdm_isactive", "Boolean"),
    ColumnSpec("modifiedon", "DateTime"),
    ColumnSpec("cdm_birthdate", "DateTime", date_only=True),
    ColumnSpec("_cdm_companyid_value", "Lookup", companion="cdm_companyid_name"),
    ColumnSpec("cdm_type", "Picklist", companion="cdm_type_label", options=TYPE_OPTIONS),
    ColumnSpec("statecode", "State", companion="statecode_label", options=STATE_OPTIONS),
]


def guid(i: int) -> str:
    return str(uuid.UUID(int=i))


def row(i: int, version: int = 1, **overrides: Any) -> dict[str, Any]:
    """A worker as the Web API returns it (annotations included, except statecode's on purpose)."""
    kind = 754400000 + (i % 2)
    out: dict[str, Any] = {
        "@odata.etag": f'W/"{version}"',
        "cdm_workerid": guid(i).upper(),  # the warehouse normalises GUIDs to lower case
        "cdm_workernumber": f"W{i:06d}",
        "cdm_description": f"line one\nline\ttwo \\ {i}",  # exercises COPY escaping
        "cdm_dependents": i % 4,
        "versionnumber": version,
        "cdm_fte": 0.5 + (i % 2) / 2,
        "cdm_salary": 1000.25 + i,
        "cdm_score": i / 3,
        "cdm_isactive": i % 3 != 0,
        "modifiedon": f"2024-0{1 + version % 9}-02T03:04:05Z",
        "cdm_birthdate": "1990-05-17",
        "_cdm_companyid_value": guid(10_000 + i % 3),
        f"_cdm_companyid_value{FORMATTED}": f"Company {i % 3}",
        "cdm_type": kind,
        f"cdm_type{FORMATTED}": TYPE_OPTIONS[kind],
        "statecode": 0,
    }
    out.update(overrides)
    return out


def pages(start: int, count: int, page_size: int, version: int = 1) -> Iterator[list[dict[str, Any]]]:
    """Rows ``start .. start+count-1`` in pages, built lazily."""
    for first in range(start, start + count, page_size):
        yield [row(i, version) for i in range(first, min(first + page_size, start + count))]


def delta_pages() -> list[tuple[list[dict[str, Any]], list[str]]]:
    """A delta after a full load of rows 0..199: 5 pages of updates, inserts and deletes."""
    out = []
    for p in range(5):
        updates = [row(i, version=2, cdm_workernumber=f"U{i}") for i in range(p * 20, p * 20 + 10)]
        inserts = [row(i, version=2) for i in range(1000 + p * 10, 1000 + p * 10 + 10)]
        deletes = [guid(i) for i in range(150 + p * 5, 150 + p * 5 + 5)]
        out.append((updates + inserts, deletes))
    return out


def contents(wh: Warehouse, table: str = TABLE) -> list[tuple[Any, ...]]:
    """Every row, ordered by key, without the sync time; deletion reduced to yes/no."""
    t = wh.table(table)
    cols = [c for c in t.c if c.name not in ("_synced_at", "_deleted_at")]
    with wh.engine.connect() as conn:
        rows = conn.execute(sa.select(*cols, t.c._deleted_at.is_not(None)).order_by(t.c.cdm_workerid)).all()
    return [tuple(r) for r in rows]


def full_load(wh: Warehouse, run_id: str, link: str, count: int = 200) -> None:
    wh.ensure_table(SPEC, COLUMNS)
    with wh.begin_load(TABLE, run_id, "full") as load:
        for page in pages(0, count, 50):
            load.stage_rows(page)
        load.commit(delta_link=link, source_count=count, reconcile_deletes=True)


def delta_load(wh: Warehouse, run_id: str, link: str) -> None:
    with wh.begin_load(TABLE, run_id, "delta") as load:
        for upserts, deletes in delta_pages():
            load.stage_rows(upserts)
            load.stage_deletes(deletes)
        load.commit(delta_link=link)


@dataclass
class Target:
    """Where one test's warehouse lives; ``open()`` gives a new ``Warehouse`` on it (like a new process)."""

    backend: str
    url: str
    schema: str | None
    opened: list[Warehouse]

    def open(self, **kwargs: Any) -> Warehouse:
        wh = Warehouse(self.url, schema=self.schema, **kwargs)
        self.opened.append(wh)
        return wh

    def other(self, tag: str) -> Target:
        """A second, independent warehouse of the same backend (for reference runs)."""
        if self.backend == "sqlite":
            return Target(self.backend, self.url.replace(".db", f"-{tag}.db"), None, self.opened)
        return Target(self.backend, self.url, f"{self.schema}_{tag}", self.opened)
