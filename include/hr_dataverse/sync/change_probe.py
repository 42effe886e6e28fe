"""Cheap change detection for event-driven sync: follow a table's stored delta link for one row.

``probe_changes(client, delta_link)`` sends exactly one request (``Prefer: odata.track-changes,
odata.maxpagesize=1``) and reads nothing more: an empty page means nothing changed since the link
was taken; one row (plus a nextLink, not followed) means something did. Following a delta link
does not consume it: Dataverse delta tokens are stateless (version + time, valid for the
retention window), so the sync later follows the same stored link and gets every change.

``PollPacer`` spaces the probes: each table gets a request every ``interval`` seconds, slower when
the poller's share of the Dataverse budget (``budget_per_hour`` over all polled tables) requires
it, and backs off on throttling (``Retry-After``, doubling up to ``max_backoff``) and on errors.
No Airflow imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dataverse import DataverseError, DeltaTokenExpired, Throttled, read_changes
from ..vocabulary import ProbeOutcome

if TYPE_CHECKING:
    from ..dataverse import DataverseClient


@dataclass(frozen=True)
class ProbeResult:
    outcome: ProbeOutcome
    retry_after: float | None = None
    detail: str = ""

    @property
    def needs_sync(self) -> bool:
        return self.outcome in (ProbeOutcome.CHANGED, ProbeOutcome.EXPIRED)


def probe_changes(client: DataverseClient, delta_link: str) -> ProbeResult:
    """One one-row page of the delta link (see the module docstring). Never raises for Dataverse errors."""
    pages = read_changes(client, delta_link, page_size=1)
    try:
        page = next(pages)
    except StopIteration:
        return ProbeResult(ProbeOutcome.UNCHANGED)
    except DeltaTokenExpired as exc:
        return ProbeResult(ProbeOutcome.EXPIRED, detail=exc.message)
    except Throttled as exc:
        return ProbeResult(ProbeOutcome.THROTTLED, retry_after=exc.retry_after, detail=exc.message)
    except DataverseError as exc:
        return ProbeResult(ProbeOutcome.FAILED, detail=exc.message)
    finally:
        pages.close()
    changed = bool(page.upserts or page.deleted_ids)
    return ProbeResult(ProbeOutcome.CHANGED if changed else ProbeOutcome.UNCHANGED)


@dataclass
class PollPacer:
    """Seconds to wait before a table's next probe.

    :param interval: wanted seconds between two probes of one table.
    :param tables: how many tables share the poller's budget.
    :param budget_per_hour: Dataverse requests per hour the poller may send in all (its share of
        the service-protection budget; the loads keep the rest).
    :param max_backoff: longest wait after throttling or errors.
    """

    interval: float = 60.0
    tables: int = 1
    budget_per_hour: int = 600
    max_backoff: float = 3600.0
    failures: int = 0

    def __post_init__(self) -> None:
        if self.interval < 5:
            raise ValueError(f"poll interval must be at least 5 seconds, got {self.interval}")
        if self.tables < 1 or self.budget_per_hour < 1:
            raise ValueError("tables and budget_per_hour must be at least 1")

    @property
    def base(self) -> float:
        """The steady interval: the wanted one, or slower when the budget says so."""
        return max(self.interval, math.ceil(3600 * self.tables / self.budget_per_hour))

    def requests_per_hour(self) -> float:
        """Dataverse requests per hour for all polled tables when nothing changes."""
        return round(self.tables * 3600 / self.base, 1)

    def next_delay(self, result: ProbeResult) -> float:
        if result.outcome in (ProbeOutcome.THROTTLED, ProbeOutcome.FAILED):
            self.failures += 1
            backoff = min(self.max_backoff, self.base * 2 ** self.failures)
            return max(backoff, min(result.retry_after or 0.0, self.max_backoff))
        self.failures = 0
        return self.base
