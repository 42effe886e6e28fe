"""The compiled ``RowSerializer`` against a slow reference: the column-by-column loop it replaced
(``formatted_value``/``wire_value`` per column, in order), compared as JSON bytes (key order, number
forms) over generated rows of every table and over rows holding the values the store does not
usually hold (Decimal, datetime and date objects, ints in boolean columns, unknown choices)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from emulator_helpers import generated_store

from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.schema import BOOLEAN, DATETIME, DECIMAL, DOUBLE, MONEY, OPTION_TYPES, TableDef
from dataverse_emulator.webapi_rows import (
    FORMATTED,
    LOOKUP_LOGICAL_NAME,
    NAVIGATION_PROPERTY,
    RowSerializer,
    formatted_value,
    parse_annotations,
    selected_attributes,
    wants,
    wire_value,
)

ANNOTATIONS = [None, "*", FORMATTED, "Microsoft.Dynamics.CRM.*", f"*,-{FORMATTED}",
               f"{FORMATTED},{LOOKUP_LOGICAL_NAME}", NAVIGATION_PROPERTY]


def reference(table: TableDef, row: dict[str, Any], *, select: list[str] | None, annotations: Any,
              hidden: set[str], resolve_name: Any) -> dict[str, Any]:
    """The serialisation rules, one column at a time (the code before issue #18's optimisation)."""
    attrs = selected_attributes(table, select)  # which columns: not what this reference checks
    out: dict[str, Any] = {"@odata.etag": f'W/"{row.get("versionnumber", 0)}"'}
    for attr in attrs:
        wire = table.wire_name(attr)
        value = None if attr.logical_name in hidden else row.get(attr.logical_name)
        if value is None:
            out[wire] = None
            continue
        if annotations is not None:
            if wants(annotations, FORMATTED) and (attr.attribute_type in {*OPTION_TYPES, DATETIME, MONEY, DECIMAL,
                                                                          DOUBLE, "Integer", "BigInt"}
                                                  or attr.is_lookup):
                text = formatted_value(table, attr, value, resolve_name)
                if text is not None:
                    out[f"{wire}@{FORMATTED}"] = text
            if attr.is_lookup and wants(annotations, NAVIGATION_PROPERTY) and attr.navigation_property:
                out[f"{wire}@{NAVIGATION_PROPERTY}"] = attr.navigation_property
            if attr.is_lookup and wants(annotations, LOOKUP_LOGICAL_NAME):
                out[f"{wire}@{LOOKUP_LOGICAL_NAME}"] = attr.targets[0]
        convert = attr.attribute_type in (DECIMAL, MONEY, DOUBLE, DATETIME, BOOLEAN)
        out[wire] = wire_value(attr, value) if convert else value
    return out


def _odd_values(table: TableDef, row: dict[str, Any], n: int) -> dict[str, Any]:
    """``row`` with values of other Python types in its typed columns (n picks which)."""
    odd = dict(row)
    for attr in table.attributes.values():
        kind = attr.attribute_type
        if kind in (DECIMAL, MONEY, DOUBLE):
            odd[attr.logical_name] = [Decimal("1234.5"), 7, -0.0, Decimal("0.10"), 1e21][n % 5]
        elif kind == DATETIME:
            odd[attr.logical_name] = [datetime(2024, 3, 5, 13, 7, tzinfo=UTC), date(2023, 12, 31),
                                      datetime(2024, 3, 5, 14, 7, tzinfo=timezone(timedelta(hours=1))),
                                      "2021-01-02T00:00:00Z", "2021-01-02"][n % 5]
        elif kind == BOOLEAN:
            odd[attr.logical_name] = [1, 0, True, Decimal(1), False][n % 5]
        elif kind in OPTION_TYPES:
            odd[attr.logical_name] = [999_999, True, 0][n % 3]
        elif kind in ("Integer", "BigInt") and attr.logical_name != "versionnumber":
            odd[attr.logical_name] = [12345678, 3.0, True][n % 3]
    return odd


@pytest.fixture(scope="module")
def store():
    return generated_store(EmulatorConfig(scale=12, seed=5))


def test_compiled_rows_equal_the_reference(store) -> None:
    names = {("cdm_worker", r["cdm_workerid"]): r.get("cdm_fullname") for r in store.iter_rows("cdm_worker")}

    def resolve(table: str, row_id: str) -> str | None:
        return names.get((table, row_id))

    compared = 0
    for table in store.schema.values():
        rows = list(store.iter_rows(table.logical_name))[:6]
        rows += [_odd_values(table, rows[0], n) for n in range(5)] if rows else []
        rows.append({table.primary_id: "00000000-0000-0000-0000-000000000001"})  # every other column null
        wires = [table.wire_name(a) for a in table.attributes.values()]
        selects = [None, wires[::-1], wires[1::2], ["nosuch", wires[0]]]
        hiddens = [set(), set(list(table.attributes)[1::3])]
        for preference in ANNOTATIONS:
            annotations = parse_annotations(preference)
            for select in selects:
                for hidden in hiddens:
                    for resolver in (resolve, None):
                        serialize = RowSerializer(table, select=select, annotations=annotations, hidden=hidden,
                                                  resolve_name=resolver)
                        for row in rows:
                            want = reference(table, row, select=select, annotations=annotations, hidden=hidden,
                                             resolve_name=resolver)
                            assert orjson.dumps(serialize(row)) == orjson.dumps(want), (table.logical_name, row)
                            compared += 1
    assert compared > 10_000


def test_a_layout_compiled_once_serves_each_request_with_its_own_names(store) -> None:
    """The compiled function is shared by layout; the names it resolves belong to each request."""
    table = store.schema["cdm_employment"]
    row = next(iter(store.iter_rows("cdm_employment")))
    first = RowSerializer(table, select=["_cdm_workerid_value"], annotations={FORMATTED}, hidden=set(),
                          resolve_name=lambda t, i: "First")
    second = RowSerializer(table, select=["_cdm_workerid_value"], annotations={FORMATTED}, hidden=set(),
                           resolve_name=lambda t, i: "Second")
    assert first(row)[f"_cdm_workerid_value@{FORMATTED}"] == "First"
    assert second(row)[f"_cdm_workerid_value@{FORMATTED}"] == "Second"
