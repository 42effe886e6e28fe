"""The guard in front of delete reconciliation: never soft-delete on incomplete evidence.

A full read (a full load, a reload of a table without change tracking, a resync after an expired
or stale delta link) soft-deletes the live warehouse rows it did not see. A read that came back
short (a paging fault, a truncated or tampered response, rows the application user suddenly cannot
see) would then delete rows that still exist, and no later delta brings them back. Before any such
delete, the load compares three numbers: the rows it read, Dataverse's count of the table, and the
warehouse's live rows. It applies no delete at all when

1. **short read, exact count**: it read fewer rows than ``$count`` says the table holds (below
   5,000 rows the count is exact). This is proof; no setting overrides it. A row deleted in
   Dataverse between the count and the read can cause it too: the next run counts again.
2. **short read, snapshot count**: it read fewer rows than ``RetrieveTotalRecordCount`` says (used
   from 5,000 rows on, where ``$count`` stops). That count is a snapshot Dataverse refreshes about
   once a day, so after genuine deletes it can stay too high for up to 24 hours. Holding only
   while the snapshot disagrees never blocks a table for good: once the snapshot is refreshed, a
   complete read agrees with it and the deletes go through, while a short read still disagrees.
   ``allow_mass_delete`` lets a person apply the deletes at once.
3. **empty read, no count**: it read no rows at all and Dataverse gave no count. Nothing proves the
   table is empty, so not even the allowance below is deleted (``allow_mass_delete`` confirms it).
4. **mass delete**: it would delete more than ``max_delete_fraction`` of the live rows (at least
   ``min_delete_allowance`` rows are always allowed, so small tables are not stuck on a handful of
   deletes). A complete read of a table that really lost many rows (a purge, a security change)
   needs ``allow_mass_delete`` for that run; anything else is most likely a short read the count
   could not see (no count available, or a snapshot lagging behind new rows).

A held load still applies what it read (upserts are true), stores no new delta link (so the next
run reads the whole table again and retries the reconciliation) and reports the counts and cause.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from .counts import EXACT, SNAPSHOT, SourceCount

DEFAULT_MAX_DELETE_FRACTION = 0.05
DEFAULT_MIN_DELETE_ALLOWANCE = 10


class HoldCause(StrEnum):
    SHORT_READ = "short_read"  # read < exact $count
    SHORT_READ_SNAPSHOT = "short_read_snapshot"  # read < RetrieveTotalRecordCount snapshot
    EMPTY_READ = "empty_read"  # read nothing, and no count says the table is empty
    MASS_DELETE = "mass_delete"  # would delete more than the allowance


@dataclass(frozen=True)
class DeleteGuardSettings:
    """``max_delete_fraction``: share of the live rows one full read may delete (0–1);
    ``min_delete_allowance``: rows it may always delete; ``allow_mass_delete``: apply the deletes
    of a complete read whatever their number (and despite a lagging snapshot count), for one run."""

    max_delete_fraction: float = DEFAULT_MAX_DELETE_FRACTION
    min_delete_allowance: int = DEFAULT_MIN_DELETE_ALLOWANCE
    allow_mass_delete: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.max_delete_fraction <= 1:
            raise ValueError(f"max_delete_fraction must be between 0 and 1, got {self.max_delete_fraction}")
        if self.min_delete_allowance < 0:
            raise ValueError(f"min_delete_allowance must not be negative, got {self.min_delete_allowance}")

    def allowance(self, live: int) -> int:
        return max(self.min_delete_allowance, math.floor(self.max_delete_fraction * live))


@dataclass(frozen=True)
class DeleteEvidence:
    """What a full read saw, taken inside the load's transaction before any delete."""

    read: int  # distinct rows the read delivered
    live: int  # live warehouse rows before the load
    would_delete: int  # live rows the read did not see


@dataclass(frozen=True)
class DeleteHold:
    """Why the deletes were not applied, with the numbers (JSON-able through ``to_dict``)."""

    cause: HoldCause
    read: int
    live: int
    would_delete: int
    allowance: int
    source_count: int | None
    source_count_method: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(table: str, evidence: DeleteEvidence, count: SourceCount, settings: DeleteGuardSettings) -> DeleteHold | None:
    """None when the deletes may be applied, else the hold (see the module docstring for the rules)."""
    read, live, would = evidence.read, evidence.live, evidence.would_delete
    allowance = settings.allowance(live)
    if would == 0:
        return None
    cause: HoldCause | None = None
    if count.value is not None and read < count.value:
        if count.method == EXACT:
            cause = HoldCause.SHORT_READ
        elif count.method == SNAPSHOT and not settings.allow_mass_delete:
            cause = HoldCause.SHORT_READ_SNAPSHOT
    if cause is None and read == 0 and count.value is None and not settings.allow_mass_delete:
        cause = HoldCause.EMPTY_READ
    if cause is None and would > allowance and not settings.allow_mass_delete:
        cause = HoldCause.MASS_DELETE
    if cause is None:
        return None
    numbers = (f"read {read} rows, Dataverse counts {_count_text(count)}, the warehouse has {live} live rows, "
               f"{would} would be soft-deleted (allowed without confirmation: {allowance})")
    return DeleteHold(cause, read, live, would, allowance, count.value, count.method or None,
                      f"table '{table}': NO rows were soft-deleted: {numbers}. {_LIKELY[cause]}")


def _count_text(count: SourceCount) -> str:
    if count.value is None:
        return "nothing (no count available)"
    return f"{count.value} ({'exact $count' if count.method == EXACT else 'RetrieveTotalRecordCount snapshot'})"


_LIKELY = {
    HoldCause.SHORT_READ: (
        "Likely cause: the read came back incomplete (a paging fault, a truncated response, or rows the "
        "application user could not see during the read). The rows read were applied; the next run reads the "
        "whole table again. If it keeps happening, check the application user's privileges on the table."),
    HoldCause.SHORT_READ_SNAPSHOT: (
        "Likely cause: the read came back incomplete, or rows were deleted in Dataverse since its row-count "
        "snapshot (refreshed about once a day) was taken. The rows read were applied; the next runs read the "
        "whole table again until the snapshot agrees. If the deletes are genuine and must apply now, run once "
        "with allow_mass_delete."),
    HoldCause.EMPTY_READ: (
        "Likely cause: the read failed silently or the application user lost access to the table; Dataverse gave "
        "no row count, so nothing shows the table is really empty. The next run reads the whole table again. If "
        "the table was really emptied, run once with allow_mass_delete."),
    HoldCause.MASS_DELETE: (
        "Likely cause: an incomplete read the source count could not reveal, or a genuine mass deletion in "
        "Dataverse. The rows read were applied; the next run reads the whole table again. If the deletion is "
        "genuine, run once with allow_mass_delete (or raise max_delete_percent)."),
}
