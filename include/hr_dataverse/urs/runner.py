"""One mapping run: warehouse → desired URS state → plan → Dataverse writes → mapping state.

``run_mapping`` is what a DAG task calls (no Airflow imports here); ``MappingResult.to_dict()`` is a
small JSON-able summary for XCom and logs.

Incremental runs re-evaluate only what changed in the warehouse since the last successful run:
rows whose ``_synced_at`` is later than that run's watermark (minus ``watermark_overlap_s``, so rows
committed while it read are not missed) and rows with a date between that run's evaluation date
and today (certificates that expired, employments that ended or started). The first run, and any
run with ``full_remap=True``, evaluates everything; either way only differences are written, so a
run after no HR change makes no write request. A run with row errors is ``partial``: it does not
move the watermark, so the next run looks at the same changes again (what succeeded is then a no-op).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..dataverse import DataverseClient
from ..dataverse.writes import BulkSupport, WriteStats
from ..vocabulary import MappingStatus
from ..warehouse import Warehouse
from .apply import apply_plan
from .errors import MappingError
from .existing import ExistingRows
from .plan import PlanSummary, build_plan
from .rules import Scope, desired_state
from .settings import MappingSettings
from .source import HrSource
from .state import MappingRun, MappingState
from .write_path import check_write_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MappingResult:
    """What one mapping run did; ``to_dict()`` is its JSON shape (XCom, the run's stored summary)."""

    run_id: str
    status: MappingStatus
    full_remap: bool
    incremental: bool
    as_of: str
    plan: PlanSummary | None = None  # counts, first rows, problems (None: nothing was planned)
    done: dict[str, dict[str, int]] = field(default_factory=dict)  # per table and operation, accepted rows
    errors: list[dict[str, Any]] = field(default_factory=list)  # first max_errors_reported row errors
    errors_total: int = 0
    requests: int = 0  # HTTP requests to Dataverse (reads and writes, retries included)
    write_requests: int = 0
    write_requests_by_kind: dict[str, int] = field(default_factory=dict)
    write_requests_by_table: dict[str, int] = field(default_factory=dict)
    watermark: str | None = None  # latest warehouse _synced_at this run covered
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.errors_total == 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "status": str(self.status), "plan": self.plan.to_dict() if self.plan else {}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MappingResult:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        return cls(**{**values, "status": MappingStatus(data["status"]),
                      "plan": PlanSummary.from_dict(data["plan"]) if data.get("plan") else None})


def run_mapping(
    client: DataverseClient,
    warehouse: Warehouse,
    settings: MappingSettings,
    *,
    run_id: str,
    full_remap: bool = False,
    dry_run: bool = False,
    today: date | None = None,
    support: BulkSupport | None = None,
) -> MappingResult:
    """Map HR workers, skills, certificates and rating models to URS (see the module docstring).

    ``today`` is the evaluation date for employments and certificate expiry (default: today, UTC).
    Raises ``MappingError`` when the run cannot start (e.g. an HR table is not in the warehouse) and
    ``WritePathBlocked`` (a ``MappingError``) when Dataverse would refuse the writes (``write_path.py``,
    checked before the run's first Dataverse request, even in a dry run; a run with nothing to look up
    or write sends none); rows Dataverse rejects are reported in the result, not raised.
    """
    if not run_id:
        raise MappingError("run_id must not be empty")
    started, clock = datetime.now(UTC), time.monotonic()
    today = today or started.date()
    dry_run = dry_run or settings.dry_run
    state = MappingState(warehouse)
    if not settings.enabled:
        log.info("URS mapping is turned off: nothing is written, mapped rows stay as they are")
        result = MappingResult(run_id, MappingStatus.DISABLED, full_remap, False, today.isoformat())
        _record(state, result, started, None, today)
        return result

    source = HrSource(warehouse, settings)
    watermark = source.high_water()  # the warehouse first: a mapping before the first sync asks nothing
    requests_before = client.stats.requests
    gate = _WritePathGate(client, settings)
    last = state.last_success()
    incremental = not (full_remap or last is None or last.watermark is None)
    if not incremental:
        scope = Scope()
    else:
        assert last is not None and last.watermark is not None
        since = last.watermark - timedelta(seconds=settings.watermark_overlap_s)
        scope = source.changed_scope(since, (min(last.as_of, today) - timedelta(days=1), today + timedelta(days=1)))
    desired = desired_state(source.load(scope), scope, settings, today)
    plan = build_plan(desired, state, settings, gate.guard(ExistingRows(client, settings)), run_id)
    result = MappingResult(run_id, MappingStatus.DRY_RUN, full_remap, incremental, today.isoformat(),
                           plan=plan.summary(settings.sample_rows, settings.max_errors_reported),
                           watermark=watermark.isoformat() if watermark else None)
    if not dry_run:
        if plan.writes:
            gate.check()
        stats = WriteStats()
        applied = apply_plan(client, plan, state, settings, stats=stats, support=support)
        result = replace(
            result, status=MappingStatus.PARTIAL if applied.errors else MappingStatus.SUCCESS, done=applied.done,
            errors=[e.to_dict() for e in applied.errors[:settings.max_errors_reported]],
            errors_total=len(applied.errors), write_requests=stats.requests,
            write_requests_by_kind=dict(stats.by_kind), write_requests_by_table=dict(stats.by_table))
    result = replace(result, requests=client.stats.requests - requests_before,
                     seconds=round(time.monotonic() - clock, 3))
    _record(state, result, started, watermark, today)
    log.info("URS mapping %s: %s, %d writes planned, %d row errors, %d requests (%d writes)", run_id, result.status,
             plan.writes, result.errors_total, result.requests, result.write_requests)
    return result


class _WritePathGate:
    """Runs ``check_write_path`` once, before the run's first Dataverse request (a lookup of existing
    URS rows, or the first write). A run with nothing to look up or write asks Dataverse nothing."""

    def __init__(self, client: DataverseClient, settings: MappingSettings) -> None:
        self.client, self.settings, self.checked = client, settings, False

    def check(self) -> None:
        if not self.checked:
            check_write_path(self.client, self.settings)
            self.checked = True

    def guard(self, lookup: ExistingRows) -> Callable[[str, list[Any]], dict[str, Any]]:
        def checked_lookup(table: str, candidates: list[Any]) -> dict[str, Any]:
            if candidates:
                self.check()
            return lookup(table, candidates)

        return checked_lookup


def _record(state: MappingState, result: MappingResult, started: datetime, watermark: datetime | None,
            today: date) -> None:
    summary = {k: v for k, v in result.to_dict().items() if k != "plan"}
    summary["plan_counts"] = result.plan.counts if result.plan else {}
    state.record_run(MappingRun(result.run_id, result.status, started, datetime.now(UTC), result.full_remap,
                                watermark, today, summary))
