"""Thread-safe in-memory rows with a global row version, a change log, tombstones and delta tokens.

Rows are ``dict[str, Any]`` keyed by attribute logical name (see schema.py for value formats). A null
column is absent from the stored row; writing ``None`` removes the key. Stored rows are never mutated
in place (an update stores a new dict), so ``iter_rows`` can hand out the stored dicts without
copying; every other read returns copies.

Change tracking: every write takes the next value of one global counter as the row's
``versionnumber``. Per table, ``_log`` maps row id -> latest version and is kept in version order
(re-inserting a key moves it to the end), so ``changes_since`` walks it backwards and costs
O(changes), not O(table). Deletes leave a tombstone (id -> delete version, time) in the same order;
tombstones older than the retention window are purged, which is safe because tokens that old are
expired anyway. ``find`` keeps a hash index per column it has been asked about, so lookups by a
business key or a foreign key stay cheap at a million rows.
"""

from __future__ import annotations

import re
import threading
import uuid
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from .clock import Clock
from .config import EmulatorConfig
from .guid_order import sql_guid_key
from .schema import TableDef, format_datetime

Row = dict[str, Any]
SYSTEM_COLUMNS = ("createdon", "modifiedon", "versionnumber")
_TOKEN = re.compile(r"^(\d+)!(\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2})$")


class StoreError(Exception):
    """Base of the store's errors; messages are safe to show to an API caller."""


class UnknownTable(StoreError):
    pass


class RowNotFound(StoreError):
    pass


class DuplicateRow(StoreError):
    pass


class InvalidDeltaToken(StoreError):
    pass


def parse_delta_token(token: str) -> tuple[int, datetime]:
    """``'919042!08/22/2017 08:10:44'`` -> (919042, aware UTC datetime); InvalidDeltaToken otherwise."""
    match = _TOKEN.match(token.strip()) if isinstance(token, str) else None
    if not match:
        raise InvalidDeltaToken(f"Invalid delta token {token!r}: expected '<version>!<MM/dd/yyyy HH:mm:ss>'.")
    try:
        when = datetime.strptime(match.group(2), "%m/%d/%Y %H:%M:%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidDeltaToken(f"Invalid delta token {token!r}: {exc}.") from None
    return int(match.group(1)), when


def _canonical_id(value: object) -> str:
    """Lower-case hyphenated GUID; braces and upper case are accepted as Dataverse does."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise StoreError(f"{value!r} is not a valid GUID.") from None


def _key(value: str) -> str:
    try:
        return sql_guid_key(value)
    except ValueError:
        raise StoreError(f"{value!r} is not a valid GUID.") from None


class _Table:
    __slots__ = ("rows", "ids", "log", "tombstones", "indexes")

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.ids: list[str] = []  # primary keys in SQL Server GUID order, for O(log n + page) paging
        self.log: dict[str, int] = {}  # id -> latest version, in version order
        self.tombstones: dict[str, tuple[int, float]] = {}  # id -> (delete version, unix time), in order
        self.indexes: dict[str, dict[Any, set[str]]] = {}  # column -> value -> ids, built on first find()

    def index(self, row_id: str, old: Row | None, new: Row | None) -> None:
        """Keep the secondary indexes in step with one row's change (old/new None = absent)."""
        for column, index in self.indexes.items():
            before = old.get(column) if old else None
            after = new.get(column) if new else None
            if before == after:
                continue
            if before is not None:
                ids = index.get(before)
                if ids is not None:
                    ids.discard(row_id)
                    if not ids:
                        del index[before]
            if after is not None:
                index.setdefault(after, set()).add(row_id)


class Store:
    def __init__(self, schema: dict[str, TableDef], clock: Clock, config: EmulatorConfig | None = None) -> None:
        """``config`` supplies ``change_tracking_retention_days`` (read on each call); default 7 days."""
        self.schema = schema
        self.clock = clock
        self.config = config
        self._lock = threading.RLock()
        self._version = 0
        self._tables = {name: _Table() for name in schema}

    # --- internals -----------------------------------------------------------------------------

    def _table(self, table: str) -> tuple[_Table, TableDef]:
        try:
            return self._tables[table], self.schema[table]
        except KeyError:
            raise UnknownTable(f"Unknown table {table!r}.") from None

    def _stamp(self, t: _Table, row_id: str, row: Row) -> None:
        self._version += 1
        row["versionnumber"] = self._version
        t.log.pop(row_id, None)
        t.log[row_id] = self._version

    @property
    def lock(self) -> threading.RLock:
        """Hold this to make several writes atomic with respect to other threads (re-entrant)."""
        return self._lock

    @property
    def retention(self) -> timedelta:
        days = self.config.change_tracking_retention_days if self.config else 7.0
        return timedelta(days=days)

    # --- bulk load -----------------------------------------------------------------------------

    def load(self, initial: dict[str, list[Row]]) -> None:
        """Replace all rows. The given dicts are adopted as-is (not copied) to save memory at scale;
        system columns are filled in, versions assigned in the order given."""
        with self._lock:
            unknown = set(initial) - set(self.schema)
            if unknown:
                raise UnknownTable(f"Unknown table(s) {sorted(unknown)}.")
            now = format_datetime(self.clock.now())
            self._tables = {name: _Table() for name in self.schema}
            for name, rows in initial.items():
                t, tdef = self._tables[name], self.schema[name]
                pk = tdef.primary_id
                for row in rows:
                    row_id = row.get(pk) or str(uuid.uuid4())
                    if row_id in t.rows:
                        raise DuplicateRow(f"Duplicate {pk} {row_id} in {name}.")
                    row[pk] = row_id
                    row.setdefault("statecode", 0)
                    row.setdefault("statuscode", 2 if row["statecode"] else 1)
                    row.setdefault("createdon", now)
                    row.setdefault("modifiedon", row["createdon"])
                    self._version += 1
                    row["versionnumber"] = self._version
                    t.rows[row_id] = row
                    t.log[row_id] = self._version
                t.ids = sorted(t.rows, key=sql_guid_key)

    # --- writes --------------------------------------------------------------------------------

    def insert(self, table: str, row: Row) -> str:
        """Store a new row; assigns the primary key if absent and system column defaults. Returns the id."""
        with self._lock:
            t, tdef = self._table(table)
            pk = tdef.primary_id
            row_id = _canonical_id(row[pk]) if row.get(pk) else str(uuid.uuid4())
            if row_id in t.rows:
                raise DuplicateRow(f"A record with {pk} {row_id} already exists in {table}.")
            new = {k: v for k, v in row.items() if v is not None and k not in SYSTEM_COLUMNS}
            new[pk] = row_id
            new.setdefault("statecode", 0)
            new.setdefault("statuscode", 2 if new["statecode"] else 1)
            new["createdon"] = new["modifiedon"] = format_datetime(self.clock.now())
            self._stamp(t, row_id, new)
            t.rows[row_id] = new
            t.index(row_id, None, new)
            insort(t.ids, row_id, key=sql_guid_key)
            t.tombstones.pop(row_id, None)  # re-created: the current row supersedes the delete
            return row_id

    def snapshot(self, table: str) -> tuple[Any, ...]:
        """An opaque copy of one table: rows, paging order, change log, tombstones. Rows are replaced,
        never mutated, on write, so shallow copies suffice. Pair with ``restore`` to roll back."""
        with self._lock:
            t, _ = self._table(table)
            return (table, dict(t.rows), list(t.ids), dict(t.log), dict(t.tombstones))

    def restore(self, snapshots: list[tuple[Any, ...]], version: int) -> None:
        """Put tables back as ``snapshot`` captured them and rewind the version counter, so rolled-back
        writes leave no trace in rows or change tracking (atomic change sets, ``*Multiple``)."""
        with self._lock:
            for table, rows, ids, log, tombstones in snapshots:
                t = self._tables[table]
                t.rows, t.ids, t.log, t.tombstones = rows, ids, log, tombstones
                t.indexes = {}  # rebuilt on the next find()
            self._version = version

    def update(self, table: str, row_id: str, changes: Row) -> Row:
        """Apply column changes (``None`` clears a column); the primary key and system columns in
        ``changes`` are ignored. Every update bumps the version, even when no value differs."""
        with self._lock:
            t, tdef = self._table(table)
            row_id = _canonical_id(row_id)
            current = t.rows.get(row_id)
            if current is None:
                raise RowNotFound(f"{table} With Id = {row_id} Does Not Exist")
            new = dict(current)
            for key, value in changes.items():
                if key == tdef.primary_id or key in SYSTEM_COLUMNS:
                    continue
                if value is None:
                    new.pop(key, None)
                else:
                    new[key] = value
            new["modifiedon"] = format_datetime(self.clock.now())
            self._stamp(t, row_id, new)
            t.rows[row_id] = new
            t.index(row_id, current, new)
            return dict(new)

    def delete(self, table: str, row_id: str) -> Row:
        """Remove a row, leave a tombstone for change tracking, and return the row as it was."""
        with self._lock:
            t, _ = self._table(table)
            row_id = _canonical_id(row_id)
            row = t.rows.pop(row_id, None)
            if row is None:
                raise RowNotFound(f"{table} With Id = {row_id} Does Not Exist")
            del t.ids[bisect_right(t.ids, sql_guid_key(row_id), key=sql_guid_key) - 1]
            t.index(row_id, row, None)
            del t.log[row_id]
            self._version += 1
            t.tombstones[row_id] = (self._version, self.clock.timestamp())
            self._purge(t)
            return row

    # --- reads ---------------------------------------------------------------------------------

    def get(self, table: str, row_id: str) -> Row | None:
        with self._lock:
            t, _ = self._table(table)
            try:
                row = t.rows.get(_canonical_id(row_id))
            except StoreError:
                return None
            return dict(row) if row is not None else None

    def value(self, table: str, row_id: str, column: str) -> Any:
        """One column of one row (None when the row or column is absent), without copying the row:
        the cheap read behind lookup FormattedValues, one per lookup value served."""
        with self._lock:
            rows = self._table(table)[0].rows
            row = rows.get(row_id)
            if row is None:
                try:
                    row = rows.get(_canonical_id(row_id))
                except StoreError:
                    return None
            return None if row is None else row.get(column)

    def count(self, table: str) -> int:
        with self._lock:
            return len(self._table(table)[0].rows)

    def page(self, table: str, *, after_id: str | None, limit: int,
             predicate: Callable[[Row], bool] | None = None,
             key_range: tuple[str | None, str | None] = (None, None),
             exclusive: tuple[bool, bool] = (False, False), copy: bool = True) -> list[Row]:
        """Up to ``limit`` rows with primary key > ``after_id`` (all when None), in primary-key order
        (SQL Server's GUID order, see guid_order.py), optionally only those matching ``predicate``.
        ``key_range`` (lowest, highest GUID, inclusive unless ``exclusive`` says so, None = open)
        bounds the scan by a seek, like an index range on the key; it must include every row
        ``predicate`` can match. ``copy=False`` hands out the stored dicts (never mutated in place;
        callers must not modify them), for reads that only serialise them."""
        with self._lock:
            t, _ = self._table(table)
            ids, rows = t.ids, t.rows
            start = bisect_right(ids, _key(after_id), key=sql_guid_key) if after_id else 0
            lowest, highest = key_range
            if lowest is not None:
                seek = bisect_right if exclusive[0] else bisect_left
                start = max(start, seek(ids, _key(lowest), key=sql_guid_key))
            if highest is not None:
                stop = (bisect_left if exclusive[1] else bisect_right)(ids, _key(highest), key=sql_guid_key)
            else:
                stop = len(ids)
            if predicate is None:
                found = [rows[i] for i in ids[start:min(stop, start + limit)]]
            else:
                found = []
                for i in range(start, stop):
                    if len(found) >= limit:
                        break
                    row = rows[ids[i]]
                    if predicate(row):
                        found.append(row)
            return [dict(row) for row in found] if copy else found

    def find(self, table: str, column: str, value: Any) -> list[Row]:
        """Rows whose ``column`` equals ``value`` (exact, case-sensitive), in primary-key order.
        The first call per column builds a hash index (one scan); later calls cost O(matches)."""
        with self._lock:
            t, _ = self._table(table)
            index = t.indexes.get(column)
            if index is None:
                index = t.indexes[column] = {}
                for row_id, row in t.rows.items():
                    v = row.get(column)
                    if v is not None:
                        index.setdefault(v, set()).add(row_id)
            return [dict(t.rows[i]) for i in sorted(index.get(value, ()), key=sql_guid_key)]

    def iter_rows(self, table: str) -> Iterator[Row]:
        """All rows in primary-key order, as a snapshot taken now. Yields the stored dicts
        themselves (no copy, for scans at scale): callers must not modify them."""
        with self._lock:
            t, _ = self._table(table)
            snapshot = [t.rows[i] for i in t.ids]
        return iter(snapshot)

    # --- change tracking -----------------------------------------------------------------------

    def current_version(self) -> int:
        with self._lock:
            return self._version

    def changes_since(self, table: str, version: int, until: int | None = None, *, rows_after: int | None = None,
                      copy: bool = True) -> tuple[list[Row], list[tuple[str, int]]]:
        """(rows created/updated with version in (``rows_after`` or version, until], in version order;
        (id, delete version) of rows deleted in (version, until], in version order). ``rows_after``
        lets a paged delta read skip the rows its earlier pages served; ``copy=False`` hands out the
        stored dicts (never mutated in place), for reads that only serialise them."""
        with self._lock:
            t, _ = self._table(table)
            until = self._version if until is None else until
            first = version if rows_after is None else max(version, rows_after)
            rows: list[Row] = []
            for row_id in reversed(t.log):
                v = t.log[row_id]
                if v <= first:
                    break
                if v <= until:
                    rows.append(dict(t.rows[row_id]) if copy else t.rows[row_id])
            deletes: list[tuple[str, int]] = []
            for row_id in reversed(t.tombstones):
                v = t.tombstones[row_id][0]
                if v <= version:
                    break
                if v <= until:
                    deletes.append((row_id, v))
            rows.reverse()
            deletes.reverse()
            return rows, deletes

    def make_delta_token(self, version: int) -> str:
        """``<version>!<MM/dd/yyyy HH:mm:ss>`` with the clock's UTC time, the format Dataverse uses."""
        return f"{version}!{self.clock.now().astimezone(UTC):%m/%d/%Y %H:%M:%S}"

    parse_delta_token = staticmethod(parse_delta_token)

    def is_expired(self, token_time: datetime) -> bool:
        """True when a token issued at ``token_time`` is older than the retention window."""
        return self.clock.now() - token_time > self.retention

    def purge_tombstones(self) -> int:
        """Drop tombstones older than the retention window; returns how many went."""
        with self._lock:
            return sum(self._purge(t) for t in self._tables.values())

    def _purge(self, t: _Table) -> int:
        horizon = self.clock.timestamp() - self.retention.total_seconds()
        old = []
        for row_id, (_, when) in t.tombstones.items():
            if when >= horizon:
                break
            old.append(row_id)
        for row_id in old:
            del t.tombstones[row_id]
        return len(old)
