"""The cheap scheduled run: when change tracking says nothing changed, load only what it cannot answer for.

``plan_loads`` follows each selected change-tracked table's stored delta link for one row
(``change_probe.probe_changes``: one request, nothing read further, the link not consumed) and
sorts the selection into three kinds:

* **unchanged**: the probe came back empty;
* **untracked**: tables change tracking cannot answer for, which every run reloads anyway and
  which do not decide the run: F&O entities, Dataverse tables without change tracking (stored
  mode ``full_every_run``), optional tables with no stored link (never readable so far);
* **to load**: everything else: a change, an expired link, a failed or throttled probe, a
  required table without a stored link (first load, a held full read, tracking cleared).

Guarantees:

* Only the scheduled run's shape is probed: mode ``auto`` over the whole catalog (no tables or
  categories chosen, not started by change events). Any *to load* table, an explicit selection or
  mode ``full``/``delta`` makes the run exactly today's run: every selected table loads
  (``LoadPlan.quiet`` False). Probing stops at the first *to load* table.
* A table whose catalog entry names a column its warehouse table does not have yet (the catalog
  was edited since its last load) counts as *to load*.
* Only when every tracked table was proven unchanged is the run *quiet*: it loads the untracked
  tables alone and records each unchanged table like a delta that found nothing
  (``Warehouse.record_unchanged``: ``last_sync_at``, a history row), so freshness checks and the
  sync history see it synced.
* ``downstream_needed`` is False only for a quiet run whose loads left every table as it was (an
  optional table skipped, a delta with nothing): then mapping and data quality have nothing new.
* ``vouched_by_probe`` names the tables the pre-flight entity access check may leave out: only a
  quiet plan's unchanged tables, which do not load and whose probe just read them through their
  delta link (the table exists, the app user can read it, change tracking is on). Every table
  that loads is checked; without a quiet plan every selected table is.
* No Airflow imports, no environment: the caller passes the client, warehouse and catalog specs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..vocabulary import LoadMode, ProbeOutcome, RunStatus, SyncMode
from .change_probe import ProbeResult, probe_changes

if TYPE_CHECKING:
    from ..catalog import TableSpec
    from ..dataverse import DataverseClient
    from ..warehouse import SyncState, Warehouse

_log = logging.getLogger(__name__)

PROBED_MODES = (SyncMode.AUTO,)
UNCHANGED_MESSAGE = "unchanged since the stored delta link (change probe)"
VOUCHED_REASON = ("this run's change probe read it through its stored delta link and found it unchanged (so it "
                  "exists, this app user can read it and change tracking is on); it does not load in this run")


@dataclass(frozen=True)
class LoadPlan:
    """The tables a run loads; for a quiet run also the ones proven unchanged. ``reasons``: why a
    table loads (``"*"``: why the whole selection does)."""

    load: tuple[str, ...]
    unchanged: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)
    quiet: bool = False
    requests: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"load": list(self.load), "unchanged": list(self.unchanged), "reasons": dict(self.reasons),
                "quiet": self.quiet, "requests": self.requests, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadPlan:
        return cls(tuple(data["load"]), tuple(data.get("unchanged", ())), dict(data.get("reasons", {})),
                   bool(data.get("quiet")), int(data.get("requests", 0)), float(data.get("seconds", 0.0)))

    def log_lines(self) -> list[str]:
        if not self.quiet:
            return [f"every selected table loads ({len(self.load)}): {self.reasons.get('*', '')} "
                    f"[{self.requests} probe request(s), {self.seconds:.1f} s]"]
        return [f"nothing changed in the {len(self.unchanged)} tracked table(s) ({self.requests} probe request(s), "
                f"{self.seconds:.1f} s); loading only the {len(self.load)} table(s) change tracking cannot answer for",
                *(f"  {t:<34} {self.reasons.get(t, '')}" for t in self.load)]


def untracked_reason(spec: TableSpec, state: SyncState | None) -> str | None:
    """Why ``spec`` is reloaded whatever change tracking says (None for a tracked table)."""
    if spec.fno_entity:
        return "F&O entity: no change tracking, reloaded every run"
    if state is not None and state.mode == LoadMode.FULL_EVERY_RUN:
        return "no change tracking in Dataverse: reloaded every run"
    if not spec.required and not (state and state.delta_link):
        return "optional table not synced so far: tried every run"
    return None


def plan_loads(client: DataverseClient, warehouse: Warehouse, specs: Sequence[TableSpec], *, mode: str,
               run_id: str, chosen: bool = False, workers: int = 1, log: logging.Logger = _log) -> LoadPlan:
    """Probe ``specs`` (at most ``workers`` requests in flight) unless the run ``chosen`` its tables
    or its mode is not ``auto``; see the module docstring."""
    names = tuple(s.name for s in specs)
    if mode not in PROBED_MODES or chosen:
        return LoadPlan(names, reasons={"*": f"mode {mode}" if mode not in PROBED_MODES else "tables chosen"})
    started, started_at = time.monotonic(), datetime.now(UTC)
    states = {state.table_name: state for state in warehouse.states()}
    untracked = {s.name: r for s in specs if (r := untracked_reason(s, states.get(s.name))) is not None}
    tracked = [s for s in specs if s.name not in untracked]
    unlinked = [s.name for s in tracked if not (states.get(s.name) and states[s.name].delta_link)]
    edited = [s.name for s in tracked if s.name not in unlinked and _new_columns(s, states[s.name])]
    if unlinked or edited:
        why = f"{unlinked[0]}: no delta link stored" if unlinked else f"{edited[0]}: catalog columns not loaded yet"
        plan = LoadPlan(names, reasons={"*": why})
    else:
        first = _first_to_load(client, [(s.name, states[s.name].delta_link or "") for s in tracked], workers)
        if first is not None:
            plan = LoadPlan(names, reasons={"*": first[0]}, requests=first[1])
        else:
            unchanged = tuple(s.name for s in tracked)
            for name in unchanged:
                warehouse.record_unchanged(name, run_id, started_at=started_at, message=UNCHANGED_MESSAGE)
            plan = LoadPlan(tuple(untracked), unchanged, untracked, quiet=True, requests=len(tracked))
    plan = replace(plan, seconds=round(time.monotonic() - started, 3))
    for line in plan.log_lines():
        log.info("%s", line)
    return plan


def _new_columns(spec: TableSpec, state: SyncState) -> bool:
    known = set((state.schema_columns or {}).get("columns") or {})
    return bool(known) and any(c not in known for c in (spec.columns or ()))


def _first_to_load(client: DataverseClient, links: list[tuple[str, str]], workers: int) -> tuple[str, int] | None:
    """(why, probes sent) for the first table whose probe was not UNCHANGED; None when all were.
    Stops sending probes once one answered otherwise."""
    pending = iter(links)
    sent = 0
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="probe") as pool:
        running: dict[Future[ProbeResult], str] = {}

        def submit() -> None:
            nonlocal sent
            for name, link in pending:
                running[pool.submit(_probe, client, link)] = name
                sent += 1
                return
        for _ in range(max(1, workers)):
            submit()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name, result = running.pop(future), future.result()
                if result.outcome is not ProbeOutcome.UNCHANGED:
                    detail = f": {result.detail[:200]}" if result.detail else ""
                    for other in running:
                        other.cancel()
                    return f"{name}: probe {result.outcome}{detail}", sent
                submit()
    return None


def _probe(client: DataverseClient, link: str) -> ProbeResult:
    try:
        return probe_changes(client, link)
    except Exception as exc:  # noqa: BLE001 - any probe failure means "load", never "skip"
        return ProbeResult(ProbeOutcome.FAILED, detail=f"{type(exc).__name__}: {exc}")


def downstream_needed(plan: LoadPlan, results: Iterable[Mapping[str, Any]]) -> bool:
    """Whether mapping and data quality have anything new: True unless the run was quiet and every
    load result left its table as it was."""
    return not plan.quiet or any(_changed(r) for r in results)


def _changed(result: Mapping[str, Any]) -> bool:
    status = str(result.get("status"))
    if status == RunStatus.SKIPPED:  # another process held the table's load lock: what it loads is unknown here
        return True
    if status == RunStatus.FAILED:  # an optional table skipped (a required failure fails the run before this)
        return False
    rows = (result.get("rows_upserted") or 0) + (result.get("rows_deleted") or 0)
    return result.get("mode_used") != LoadMode.DELTA or rows > 0


def vouched_by_probe(plan: LoadPlan | None) -> dict[str, str]:
    """Tables the entity access check need not ask about (name → why): a quiet plan's unchanged
    tables that it does not load. Empty without a plan or for one that is not quiet."""
    if plan is None or not plan.quiet:
        return {}
    loading = set(plan.load)
    return {name: VOUCHED_REASON for name in plan.unchanged if name not in loading}


def split_by_plan(plan: LoadPlan, tables: Sequence[str]) -> list[str]:
    """The part of ``tables`` the plan loads (order kept): all of them unless the plan is quiet."""
    if not plan.quiet:
        return list(tables)
    wanted = set(plan.load)
    return [t for t in tables if t in wanted]
