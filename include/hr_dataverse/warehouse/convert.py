"""Wire rows (Web API JSON objects) -> staging rows, and PostgreSQL COPY text lines.

A wire row holds the selected properties, ``@odata.etag`` and, when the reader sent
``Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue"``, the readable
values as ``<property>@OData.Community.Display.V1.FormattedValue``. Choice labels fall back to the
metadata options when the annotation is absent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from .columns import ColumnSpec
from .errors import WarehouseError
from .schema import TableLayout

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
_ETAG_VERSION = re.compile(r'^(?:W/)?"(\d+)"$')


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    raise TypeError


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise TypeError
    if isinstance(v, float) and not v.is_integer():
        raise ValueError
    return int(v)


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError
    return float(v)


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if v in (0, 1):
        return bool(v)
    raise ValueError


def _timestamp(v: Any) -> datetime:
    parsed = datetime.fromisoformat(v)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _date(v: Any) -> date:
    return date.fromisoformat(v[:10])


def _guid(v: Any) -> str:
    return str(uuid.UUID(str(v)))


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": _text, "integer": _int, "bigint": _int, "numeric": _float, "double": _float, "boolean": _bool,
    "timestamp": _timestamp, "date": _date, "guid": _guid,
}
STAGING_HEAD = ("_seq", "_op")
STAGING_TAIL = ("_source_version",)


class RowConverter:
    """Turns wire rows into staging dicts for one table layout (all staging columns present)."""

    def __init__(self, layout: TableLayout) -> None:
        self.layout = layout
        self.columns = STAGING_HEAD + layout.data_columns + STAGING_TAIL
        self._empty = dict.fromkeys(self.columns)
        self._specs = [(c, CONVERTERS[c.kind]) for c in layout.columns]

    def upsert(self, row: Mapping[str, Any], seq: int) -> dict[str, Any]:
        out = dict(self._empty)
        out["_seq"], out["_op"] = seq, "u"
        pk = self.layout.primary_key
        if row.get(pk) is None:
            keys = ", ".join(sorted(k for k in row if "@" not in k)[:12])
            raise WarehouseError(f"table '{self.layout.name}': a row has no primary key '{pk}' (it has: {keys})")
        for spec, convert in self._specs:
            value = row.get(spec.name)
            if value is not None:
                try:
                    value = convert(value)
                except (TypeError, ValueError):
                    raise WarehouseError(
                        f"table '{self.layout.name}', row {row.get(pk)}: column '{spec.name}': cannot store "
                        f"{value!r} as {spec.kind} (Dataverse type {spec.attribute_type})") from None
            out[spec.name] = value
            if spec.companion:
                out[spec.companion] = _companion(spec, row, value)
        out["_source_version"] = _version(row)
        return out

    def delete(self, dataverse_id: str, seq: int) -> dict[str, Any]:
        out = dict(self._empty)
        out["_seq"], out["_op"] = seq, "d"
        try:
            out[self.layout.primary_key] = _guid(dataverse_id)
        except (TypeError, ValueError):
            raise WarehouseError(f"table '{self.layout.name}': deleted row id {dataverse_id!r} is not a GUID") from None
        return out

    def copy_line(self, staged: dict[str, Any]) -> str:
        """One line of PostgreSQL ``COPY … FROM STDIN`` text format."""
        return "\t".join(_copy_value(staged[c]) for c in self.columns) + "\n"


def _companion(spec: ColumnSpec, row: Mapping[str, Any], value: Any) -> str | None:
    formatted = row.get(spec.name + FORMATTED)
    if formatted is not None or spec.is_lookup or value is None or not spec.options:
        return None if formatted is None else str(formatted)
    return spec.options.get(int(value))


def _version(row: Mapping[str, Any]) -> int | None:
    """``versionnumber`` when selected, else the row version inside the etag ``W/"123"``."""
    version = row.get("versionnumber")
    if isinstance(version, int | str) and str(version).isdigit():
        return int(version)
    match = _ETAG_VERSION.match(str(row.get("@odata.etag") or ""))
    return int(match.group(1)) if match else None


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return str(value).translate(_COPY_ESCAPES)
