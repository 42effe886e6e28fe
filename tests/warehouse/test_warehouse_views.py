"""The hr_linked_rows view ("View linked rows"): every row of every catalog table, with deletions."""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from warehouse_fakes import COLUMNS, SPEC, TABLE, Target, full_load, guid, row

from hr_dataverse.warehouse import LINKED_ROWS_VIEW, Warehouse

EMPLOYEE = replace(SPEC, name="cdm_employee")


def linked_rows(wh: Warehouse) -> list[tuple]:
    view = sa.table(LINKED_ROWS_VIEW, sa.column("table_name"), sa.column("dataverse_id"), sa.column("warehouse_table"),
                    sa.column("last_synced_at"), sa.column("deleted_in_dataverse"), sa.column("deleted_at"),
                    schema=wh.schema)
    with wh.engine.connect() as conn:
        rows = conn.execute(sa.select(view).order_by(view.c.table_name, view.c.dataverse_id)).all()
    return [(r.table_name, r.dataverse_id, r.warehouse_table, bool(r.deleted_in_dataverse),
             r.deleted_at is not None, r.last_synced_at is not None) for r in rows]


def test_linked_rows_cover_all_tables_and_deletions(target: Target) -> None:
    wh = target.open()
    assert wh.create_linked_rows_view([SPEC, EMPLOYEE]) == []  # nothing loaded yet: no view
    full_load(wh, "run-1", "link-1", count=3)
    assert wh.create_linked_rows_view([SPEC, EMPLOYEE]) == [TABLE]  # tables without a warehouse table are skipped
    assert [r[1] for r in linked_rows(wh)] == [guid(0), guid(1), guid(2)]

    wh.ensure_table(EMPLOYEE, COLUMNS)
    with wh.begin_load("cdm_employee", "run-1", "full") as load:
        load.stage_rows([row(7)])
        load.commit(delta_link="link-e", source_count=1)
    with wh.begin_load(TABLE, "run-2", "delta") as load:
        load.stage_deletes([guid(1)])
        load.commit(delta_link="link-2")
    assert wh.create_linked_rows_view([SPEC, EMPLOYEE]) == [TABLE, "cdm_employee"]
    assert linked_rows(wh) == [
        ("cdm_employee", guid(7), "cdm_employee", False, False, True),
        (TABLE, guid(0), TABLE, False, False, True),
        (TABLE, guid(1), TABLE, True, True, True),
        (TABLE, guid(2), TABLE, False, False, True),
    ]
    with wh.begin_load(TABLE, "run-3", "delta") as load:  # the view is live: no refresh needed
        load.stage_rows([row(1, version=2)])
        load.commit(delta_link="link-3")
    assert linked_rows(wh)[2][3:5] == (False, False)
