"""The page's filters (table, date range, run), parsed from query-string values with clear errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_TABLE = re.compile(r"^[A-Za-z0-9_]{1,128}$")


class HistoryFilterError(ValueError):
    """A filter value the page cannot use; the message names the field and the expected form."""


@dataclass(frozen=True)
class HistoryFilter:
    table: str | None = None
    since: date | None = None  # first day shown (UTC)
    until: date | None = None  # last day shown (UTC), inclusive
    run_id: str | None = None

    @classmethod
    def parse(cls, *, table: str | None = None, since: str | None = None, until: str | None = None,
              run_id: str | None = None) -> HistoryFilter:
        table = (table or "").strip() or None
        if table is not None and not _TABLE.match(table):
            raise HistoryFilterError(f"table {table!r}: expected a Dataverse logical name (letters, digits, _)")
        first, last = _day("since", since), _day("until", until)
        if first and last and first > last:
            raise HistoryFilterError(f"since ({first}) is after until ({last})")
        return cls(table=table, since=first, until=last, run_id=(run_id or "").strip() or None)

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC for the warehouse query."""
        start = datetime.combine(self.since, time(), UTC) if self.since else None
        end = datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None
        return start, end


def _day(name: str, value: str | None) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HistoryFilterError(f"{name} {value!r}: expected a date as YYYY-MM-DD") from None
