"""Typed DDL from metadata, schema drift, and target configuration errors."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import sqlalchemy as sa
from warehouse_fakes import COLUMNS, SPEC, TABLE, Target, contents, full_load, guid, row

from hr_dataverse.warehouse import (
    ColumnSpec,
    SchemaDriftError,
    Warehouse,
    WarehouseConfigError,
    WarehouseError,
)

EXPECTED_TYPES = {
    "sqlite": {
        "cdm_workerid": "VARCHAR(36)", "cdm_workernumber": "TEXT", "cdm_description": "TEXT",
        "cdm_dependents": "INTEGER", "versionnumber": "BIGINT", "cdm_fte": "FLOAT", "cdm_salary": "FLOAT",
        "cdm_score": "DOUBLE", "cdm_isactive": "BOOLEAN", "modifiedon": "DATETIME", "cdm_birthdate": "DATE",
        "_cdm_companyid_value": "VARCHAR(36)", "cdm_companyid_name": "TEXT", "cdm_type": "INTEGER",
        "cdm_type_label": "TEXT", "statecode": "INTEGER", "statecode_label": "TEXT",
        "_synced_at": "DATETIME", "_source_version": "BIGINT", "_deleted_at": "DATETIME", "_run_id": "TEXT",
    },
    "postgres": {
        "cdm_workerid": "UUID", "cdm_workernumber": "TEXT", "cdm_description": "TEXT",
        "cdm_dependents": "INTEGER", "versionnumber": "BIGINT", "cdm_fte": "NUMERIC", "cdm_salary": "NUMERIC",
        "cdm_score": "DOUBLE PRECISION", "cdm_isactive": "BOOLEAN", "modifiedon": "TIMESTAMP WITH TIME ZONE",
        "cdm_birthdate": "DATE", "_cdm_companyid_value": "UUID", "cdm_companyid_name": "TEXT",
        "cdm_type": "INTEGER", "cdm_type_label": "TEXT", "statecode": "INTEGER", "statecode_label": "TEXT",
        "_synced_at": "TIMESTAMP WITH TIME ZONE", "_source_version": "BIGINT",
        "_deleted_at": "TIMESTAMP WITH TIME ZONE", "_run_id": "TEXT",
    },
}


def reflected(wh: Warehouse, table: str = TABLE) -> dict[str, str]:
    inspector = sa.inspect(wh.engine)
    return {c["name"]: c["type"].compile(dialect=wh.engine.dialect)
            for c in inspector.get_columns(table, schema=wh.schema)}


def test_typed_ddl_from_metadata(target: Target) -> None:
    wh = target.open()
    report = wh.ensure_table(SPEC, COLUMNS)
    assert report.created and report.changed and not report.warnings
    assert reflected(wh) == EXPECTED_TYPES[target.backend]
    pk = sa.inspect(wh.engine).get_pk_constraint(TABLE, schema=wh.schema)["constrained_columns"]
    assert pk == ["cdm_workerid"]
    state = wh.get_state(TABLE)
    assert state is not None and state.delta_link is None and state.mode is None  # no load yet
    assert state.schema_columns["columns"]["cdm_birthdate"] == "date"
    again = wh.ensure_table(SPEC, COLUMNS)  # unchanged source: nothing to do
    assert not again.changed and again.added == [] and again.removed == []


def test_table_prefix_names_every_table(target: Target) -> None:
    wh = target.open(table_prefix="hr_")
    full_load(wh, "run-1", "link-1", count=3)
    assert wh.create_linked_rows_view([SPEC]) == [TABLE]
    names = set(sa.inspect(wh.engine).get_table_names(schema=wh.schema))
    assert names == {"hr_cdm_worker", "hr__hr_sync_state", "hr__hr_sync_runs", "hr__hr_lookup_targets"}
    assert sa.inspect(wh.engine).get_view_names(schema=wh.schema) == ["hr_hr_linked_rows"]
    assert wh.get_state(TABLE).warehouse_table == "hr_cdm_worker"


def test_new_source_column_is_added(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=5)
    new = ColumnSpec("cdm_nickname", "String")
    report = wh.ensure_table(SPEC, [*COLUMNS, new])
    assert report.added == ["cdm_nickname"] and not report.created and report.warnings == []
    assert reflected(wh)["cdm_nickname"] == "TEXT"
    t = wh.table(TABLE)
    with wh.engine.connect() as conn:  # existing rows: NULL until the source sends a value
        assert conn.scalars(sa.select(t.c.cdm_nickname)).all() == [None] * 5
    with wh.begin_load(TABLE, "run-2", "delta") as load:
        load.stage_rows([row(1, version=2, cdm_nickname="Bo")])
        load.commit(delta_link="link-2")
    with wh.engine.connect() as conn:
        assert conn.scalar(sa.select(t.c.cdm_nickname).where(t.c.cdm_workerid == guid(1))) == "Bo"


def test_removed_column_is_kept_goes_null_and_warns(target: Target, caplog: pytest.LogCaptureFixture) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=3)
    fewer = [c for c in COLUMNS if c.name != "cdm_description"]
    with caplog.at_level(logging.WARNING):
        report = target.open().ensure_table(SPEC, fewer)  # a later process sees the smaller metadata
    assert report.removed == ["cdm_description"]
    assert report.warnings == ["table 'cdm_worker': column 'cdm_description' is no longer delivered by the "
                               "source; it is kept and new or changed rows store NULL in it"]
    assert report.warnings[0] in caplog.messages
    wh2 = target.opened[-1]
    with wh2.begin_load(TABLE, "run-2", "delta") as load:
        load.stage_rows([row(1, version=2)])  # the row still carries the value; it is no longer selected
        load.commit(delta_link="link-2")
    t = wh2.table(TABLE)
    with wh2.engine.connect() as conn:
        values = dict(conn.execute(sa.select(t.c.cdm_workerid, t.c.cdm_description)).all())
    assert values[guid(1)] is None  # changed row: NULL
    assert values[guid(0)] == "line one\nline\ttwo \\ 0"  # untouched row keeps its last value
    assert "cdm_description" in reflected(wh2)


def test_incompatible_type_change_stops_the_table(target: Target) -> None:
    wh = target.open()
    full_load(wh, "run-1", "link-1", count=3)
    before = contents(wh)
    changed = [replace(c, attribute_type="Integer") if c.name == "cdm_workernumber" else c for c in COLUMNS]
    changed.append(ColumnSpec("cdm_nickname", "String"))  # would be added: must not be, the change is refused
    with pytest.raises(SchemaDriftError) as info:
        target.open().ensure_table(SPEC, changed)
    assert str(info.value) == ("table 'cdm_worker', column 'cdm_workernumber': type changed from text to integer; "
                               "the warehouse column cannot hold both (rename or drop the column and run a full load)")
    assert info.value.table == TABLE and info.value.column == "cdm_workernumber"
    assert "cdm_nickname" not in reflected(wh)
    assert contents(wh) == before


def test_begin_load_needs_ensure_table_and_valid_mode(target: Target) -> None:
    wh = target.open()
    with pytest.raises(WarehouseError, match="table 'cdm_worker': call ensure_table before begin_load"):
        wh.begin_load(TABLE, "run-1", "full")
    wh.ensure_table(SPEC, COLUMNS)
    with pytest.raises(WarehouseError, match="unknown load mode 'incremental'"):
        wh.begin_load(TABLE, "run-1", "incremental")
    with pytest.raises(WarehouseError, match="the columns do not include the primary key 'cdm_workerid'"):
        wh.ensure_table(SPEC, COLUMNS[1:])
    clash = [*COLUMNS, ColumnSpec("cdm_type_label", "String")]
    with pytest.raises(WarehouseError, match="column name 'cdm_type_label' is used twice"):
        wh.ensure_table(SPEC, clash)


@pytest.mark.parametrize(("url", "kwargs", "message"), [
    ("mysql://u@h/db", {}, "unsupported warehouse backend 'mysql'; use sqlite or postgresql"),
    ("sqlite://", {}, "the SQLite warehouse must be a file"),
    ("not a url", {}, "the warehouse URL is not a SQLAlchemy URL"),
    ("sqlite:///{tmp}/w.db", {"schema": "hr"}, "schema is only supported on PostgreSQL"),
    ("sqlite:///{tmp}/w.db", {"schema": "Bad-Name"}, "schema 'Bad-Name' must be a lower-case identifier"),
])
def test_bad_targets_are_explained(tmp_path, url: str, kwargs: dict, message: str) -> None:
    with pytest.raises(WarehouseConfigError) as info:
        Warehouse(url.format(tmp=tmp_path), **kwargs)
    assert str(info.value).startswith(message)


def test_password_never_shown(tmp_path) -> None:
    wh = Warehouse("postgresql+psycopg2://user:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in repr(wh) and "***" in repr(wh)
    wh.dispose()

