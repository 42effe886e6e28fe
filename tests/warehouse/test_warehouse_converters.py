"""The compiled per-table converter (``converters.py``) against the column rules it was compiled
from: every value through its kind's converter and encoder, labels from the annotation or the
metadata options, the row version, and the same errors for values a kind cannot hold."""

from __future__ import annotations

from typing import Any

import pytest
from warehouse_fakes import COLUMNS, TABLE, guid, row

from hr_dataverse.warehouse import WarehouseError
from hr_dataverse.warehouse.convert import CONVERTERS, COPY_ENCODERS, FORMATTED, SQLITE_ENCODERS, RowConverter
from hr_dataverse.warehouse.schema import TableLayout, desired_kinds

PK = "cdm_workerid"


def _converter(copy: bool) -> RowConverter:
    kinds = desired_kinds(TABLE, PK, COLUMNS)
    return RowConverter(TableLayout(TABLE, None, PK, tuple(COLUMNS), tuple(kinds), kinds), copy=copy)


def _expected(conv: RowConverter, wire: dict[str, Any], seq: int, copy: bool) -> dict[str, Any]:
    """Column -> staged value, from the column rules one value at a time."""
    def encode(kind: str, value: Any) -> Any:
        return COPY_ENCODERS[kind](value) if copy else SQLITE_ENCODERS.get(kind, lambda v: v)(value)

    out: dict[str, Any] = dict.fromkeys(conv.columns, "\\N" if copy else None)
    out["_seq"], out["_op"] = encode("bigint", seq), "u"
    for spec in COLUMNS:
        if wire.get(spec.name) is None:
            continue
        value = CONVERTERS[spec.kind](wire[spec.name])
        out[spec.name] = encode(spec.kind, value)
        if spec.companion:
            label = wire.get(spec.name + FORMATTED)
            if label is None and not spec.is_lookup and spec.options is not None:
                label = spec.options.get(int(value))
            if label is not None:
                out[spec.companion] = encode("text", str(label))
    version = wire.get("versionnumber") or int(wire["@odata.etag"][3:-1])
    out["_source_version"] = encode("bigint", version)
    return out


ODD_ROWS = [
    row(1),
    row(2, cdm_dependents=2.0, cdm_workernumber=5, modifiedon="2024-09-02T05:04:05+02:00", statecode=1),
    row(3, versionnumber=None, cdm_fte=None, cdm_isactive=1, modifiedon="2024-09-02T05:04:05"),
    {k: v for k, v in row(4).items() if FORMATTED not in k},  # no labels from annotations at all
    row(5, modifiedon="2024-09-02T05:04:05.250Z"),  # fractions: not the sliced fast path's shape
]


@pytest.mark.parametrize("copy", [False, True], ids=["sqlite", "copy"])
@pytest.mark.parametrize("wire", ODD_ROWS, ids=["plain", "odd-types", "nulls", "no-annotations", "fractions"])
def test_compiled_converter_follows_the_column_rules(copy: bool, wire: dict[str, Any]) -> None:
    conv = _converter(copy)
    assert dict(zip(conv.columns, conv.upsert(wire, 7), strict=True)) == _expected(conv, wire, 7, copy)


@pytest.mark.parametrize(("column", "value", "kind", "source"), [
    ("cdm_dependents", "many", "integer", "Integer"), ("cdm_dependents", True, "integer", "Integer"),
    ("cdm_dependents", 1.5, "integer", "Integer"), ("cdm_workernumber", [1], "text", "String"),
    ("_cdm_companyid_value", "not-a-guid", "guid", "Lookup"), ("modifiedon", "yesterday", "timestamp", "DateTime"),
    ("modifiedon", "2024-02-30T05:04:05Z", "timestamp", "DateTime"),  # Dataverse's shape, no such day
])
def test_values_a_kind_cannot_hold_are_named(column: str, value: Any, kind: str, source: str) -> None:
    with pytest.raises(WarehouseError) as info:
        _converter(False).upsert(row(2, **{column: value}), 1)
    assert str(info.value) == (f"table '{TABLE}', row {guid(2).upper()}: column '{column}': cannot store "
                               f"{value!r} as {kind} (Dataverse type {source})")
