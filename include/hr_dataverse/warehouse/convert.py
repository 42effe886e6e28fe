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
from .converters import Upsert, compile_upsert
from .errors import WarehouseError
from .schema import TableLayout

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
_ETAG_VERSION = re.compile(r'^(?:W/)?"(\d+)"$')
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


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
    tz = parsed.tzinfo
    if tz is UTC:  # Dataverse writes ...Z: already UTC, no conversion to pay per value
        return parsed
    return parsed.replace(tzinfo=UTC) if tz is None else parsed.astimezone(UTC)


def _sqlite_timestamp(v: Any) -> str:
    """Wire timestamp -> the SQLite parameter, in one step. Dataverse writes ``YYYY-MM-DDTHH:MM:SSZ``:
    parsed (so a bad value is refused as in ``_timestamp``) but written by slicing the text, which
    gives what ``SQLITE_ENCODERS["timestamp"]`` would (the encoder was ~9% of the loader's CPU)."""
    if type(v) is str and len(v) == 20 and v[10] == "T" and v[19] == "Z":
        datetime.fromisoformat(v)
        return f"{v[:10]} {v[11:19]}.000000"
    return SQLITE_ENCODERS["timestamp"](_timestamp(v))


def _date(v: Any) -> date:
    return date.fromisoformat(v[:10])


def _guid(v: Any) -> str:
    if isinstance(v, str) and _GUID.fullmatch(v):
        return v.lower()
    return str(uuid.UUID(str(v)))


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": _text, "integer": _int, "bigint": _int, "numeric": _float, "double": _float, "boolean": _bool,
    "timestamp": _timestamp, "date": _date, "guid": _guid,
}
# How each kind is written: as a sqlite3 parameter (the text format SQLAlchemy reads back), and as a
# PostgreSQL COPY text field.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
SQLITE_ENCODERS: dict[str, Callable[[Any], Any]] = {
    # "YYYY-MM-DD HH:MM:SS.ffffff" of the UTC value (the offset cut off); 2.5x faster than strftime,
    # which was the loader's top hot spot (one call per timestamp column per row).
    "timestamp": lambda v: v.isoformat(" ", "microseconds")[:26],
    "date": date.isoformat,
    "boolean": int,
}
COPY_ENCODERS: dict[str, Callable[[Any], str]] = {
    "text": lambda v: v.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(v) else v,
    "integer": str, "bigint": str, "numeric": repr, "double": repr,
    "boolean": lambda v: "t" if v else "f",
    "timestamp": datetime.isoformat, "date": date.isoformat, "guid": str,
}
STAGING_HEAD = ("_seq", "_op")
STAGING_TAIL = ("_source_version",)


def _identity(value: Any) -> Any:
    return value


class RowConverter:
    """Turns wire rows into staging tuples (in ``columns`` order) for one table layout, encoded
    for the backend: sqlite3 parameters, or PostgreSQL COPY text fields (``copy=True``).
    ``upsert(row, seq)`` is compiled per layout (``converters.py``); a value a column's kind cannot
    hold raises ``WarehouseError`` naming table, row and column."""

    def __init__(self, layout: TableLayout, *, copy: bool) -> None:
        self.layout = layout
        self.columns = STAGING_HEAD + layout.data_columns + STAGING_TAIL
        self._copy = copy
        index = {name: i for i, name in enumerate(self.columns)}
        self._pk = index[layout.primary_key]
        self._specs = [
            (spec, index[spec.name], *self._convert_encode(spec.kind),
             index[spec.companion] if spec.companion else None)
            for spec in layout.columns
        ]
        self._text, self._bigint = self._encoder("text"), self._encoder("bigint")
        self._null = "\\N" if copy else None
        # ``upsert(row, seq)``: one generated function per layout, the hot path (converters.py).
        self.upsert: Upsert = compile_upsert(self, identity=_identity)

    def _convert_encode(self, kind: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
        if kind == "timestamp" and not self._copy:
            return _sqlite_timestamp, _identity  # one step (see _sqlite_timestamp)
        return CONVERTERS[kind], self._encoder(kind)

    def _encoder(self, kind: str) -> Callable[[Any], Any]:
        return COPY_ENCODERS[kind] if self._copy else SQLITE_ENCODERS.get(kind, _identity)

    def delete(self, dataverse_id: str, seq: int) -> tuple[Any, ...]:
        out: list[Any] = [self._null] * len(self.columns)
        out[0], out[1] = self._bigint(seq), "d"
        try:
            out[self._pk] = self._encoder("guid")(_guid(dataverse_id))
        except (TypeError, ValueError):
            raise WarehouseError(f"table '{self.layout.name}': deleted row id {dataverse_id!r} is not a GUID") from None
        return tuple(out)


def _companion(spec: ColumnSpec, row: Mapping[str, Any], value: Any) -> str | None:
    formatted = row.get(spec.name + FORMATTED)
    if formatted is not None:
        return str(formatted)
    if spec.is_lookup or spec.options is None:
        return None
    return spec.options.get(int(value))  # may fetch lazily loaded labels (one request per table and type)


def _version(row: Mapping[str, Any]) -> int | None:
    """``versionnumber`` when selected, else the row version inside the etag ``W/"123"``."""
    version = row.get("versionnumber")
    if isinstance(version, int | str) and str(version).isdigit():
        return int(version)
    match = _ETAG_VERSION.match(str(row.get("@odata.etag") or ""))
    return int(match.group(1)) if match else None
