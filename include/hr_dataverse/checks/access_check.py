"""Entity access check: for every catalog table, does it exist, can the app user read it, is change
tracking on, and how many rows does it hold?

A missing or unreadable *required* table is a blocker, an optional one a warning; every table is
checked, so the report lists all blockers at once. Errors that are not about one table (no token,
no application user, network, throttling) stop the check with a single blocker instead of
repeating it for every table.

A table the caller marks *vouched for* (``vouched``: name → why) is not asked about: it gets one
``ok`` entry of check ``vouched`` that says why, and sends no request. The sync passes the tables
its change probe proved unchanged in this run (read through their delta link moments ago, and not
loaded by the run); every table that loads is checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hr_dataverse.dataverse import (
    AuthError,
    ChangeTrackingNotEnabled,
    ConfigError,
    DataverseClient,
    DataverseError,
    EntityInfo,
    NetworkError,
    NotAMember,
    NotFound,
    Throttled,
    Unauthorized,
    count,
    diagnose,
    get_entity,
    total_record_count,
)
from hr_dataverse.dataverse.paging import prefer_header
from hr_dataverse.vocabulary import CheckStatus

from .report import CheckEntry, CheckReport, Status

# Errors that say nothing about one table: checking further tables would only repeat them.
_ENVIRONMENT_ERRORS = (AuthError, ConfigError, NetworkError, NotAMember, Unauthorized, Throttled)
FULL_RELOAD = "this table will be fully reloaded every run."
VOUCHED = "vouched"  # the check name of a table not asked about (see the module docstring)


@dataclass(frozen=True)
class TableTarget:
    """A table to check. ``entity_set`` is what the catalog expects (None: take it from metadata)."""

    logical_name: str
    required: bool = True
    entity_set: str | None = None


def table_targets(tables: Iterable[Any]) -> list[TableTarget]:
    """Normalise the catalog's ``TableSpec`` objects (``logical_name``/``name``, ``required``,
    ``entity_set``), ``(logical_name, required)`` pairs or bare names (required) to targets. Entries
    read from finance and operations (``fno_entity``) are left out."""
    out: list[TableTarget] = []
    for t in tables:
        if isinstance(t, TableTarget):
            out.append(t)
        elif isinstance(t, str):
            out.append(TableTarget(t))
        elif isinstance(t, tuple):
            out.append(TableTarget(str(t[0]), bool(t[1]) if len(t) > 1 else True))
        elif getattr(t, "fno_entity", None):
            continue  # a finance-and-operations entity: no Dataverse table to check (its load reports errors)
        else:
            name = getattr(t, "logical_name", None) or getattr(t, "name", None)
            if not name:
                raise TypeError(f"cannot tell the table name of {t!r}: expected logical_name or name")
            out.append(TableTarget(str(name), bool(getattr(t, "required", True)), getattr(t, "entity_set", None)))
    return out


class _Stop(Exception):
    """An environment-wide failure was recorded; no further table is checked."""


def run_access_check(client: DataverseClient, tables: Iterable[Any], *, count_rows: bool = True,
                     vouched: Mapping[str, str] | None = None) -> CheckReport:
    """Check every table in ``tables`` (see :func:`table_targets`) but those in ``vouched`` (name →
    why it needs no check; recorded as such); never raises for a failed check."""
    report = CheckReport("entity_access")
    targets = table_targets(tables)
    readable: dict[str, EntityInfo] = {}
    vouched = vouched or {}
    try:
        for target in targets:
            if target.logical_name in vouched:
                report.ok(VOUCHED, target.logical_name, f"Not checked: {vouched[target.logical_name]}.",
                          required=target.required)
                continue
            info = _check_table(report, client, target)
            if info is not None:
                readable[target.logical_name] = info
        if count_rows and readable:
            _count_rows(report, client, readable)
    except _Stop:
        pass
    return report


def _severity(target: TableTarget) -> Status:
    return CheckStatus.BLOCKER if target.required else CheckStatus.WARNING


def _kind(target: TableTarget) -> str:
    return "required" if target.required else "optional"


def _consequence(target: TableTarget) -> str:
    return ("Required table: no load can run until this is fixed." if target.required
            else "Optional table: runs go on without it.")


def _fail(report: CheckReport, check: str, target: TableTarget, exc: DataverseError, *, status: Status | None = None,
          cause_suffix: str = "", **details: Any) -> None:
    if isinstance(exc, _ENVIRONMENT_ERRORS):
        report.failure(diagnose(exc).check, target.logical_name, exc,
                       cause_suffix="Stopped checking further tables.", during=check)
        raise _Stop
    report.failure(check, target.logical_name, exc, status or _severity(target),
                   cause_suffix=cause_suffix or _consequence(target), required=target.required, **details)


def _check_table(report: CheckReport, client: DataverseClient, target: TableTarget) -> EntityInfo | None:
    """Existence, read and change-tracking checks; the metadata when the table is readable."""
    name = target.logical_name
    try:
        info = get_entity(client, name)
    except NotFound as exc:
        report.failure("table", name, exc, _severity(target), required=target.required,
                       cause=f"The {_kind(target)} table '{name}' does not exist in this environment: the HR tables "
                       "are not installed, or the name is wrong.")
        return None
    except DataverseError as exc:
        _fail(report, "table", target, exc)
        return None
    except ValueError as exc:  # a catalog name that is not an identifier never reaches the server
        report.add(CheckEntry("table", name, _severity(target), f"The catalog entry is not a valid table logical "
                              f"name: {exc}.", "Use the table's logical name (e.g. cdm_worker) in the catalog.",
                              details={"required": target.required}))
        return None
    report.ok("table", name, f"The table exists (entity set {info.entity_set_name}).",
              entity_set=info.entity_set_name, primary_id=info.primary_id, columns=len(info.attributes),
              change_tracking_enabled=info.change_tracking_enabled)
    if target.entity_set and target.entity_set != info.entity_set_name:
        report.warning("table", name, f"The catalog names entity set {target.entity_set!r} but the environment "
                       f"calls it {info.entity_set_name!r}.",
                       f"Set entity_set to {info.entity_set_name!r} in the catalog, or remove it to use metadata.",
                       expected=info.entity_set_name, configured=target.entity_set)
    select = {"$select": info.primary_id}
    try:
        rows = client.request("GET", info.entity_set_name, params={"$top": "1", **select}).data.get("value", [])
    except DataverseError as exc:
        _fail(report, "read", target, exc)
        return None
    report.ok("read", name, "The application user can read the table (one-row probe).", sample_rows=len(rows))
    _check_change_tracking(report, client, target, info, select)
    return info


def _check_change_tracking(report: CheckReport, client: DataverseClient, target: TableTarget, info: EntityInfo,
                           select: dict[str, str]) -> None:
    """A one-row change-tracking read proves both the table setting and organization-level read."""
    name = target.logical_name
    prefer = prefer_header(1, ["odata.track-changes"])
    try:
        client.request("GET", info.entity_set_name, params=select, headers={"Prefer": prefer})
    except ChangeTrackingNotEnabled as exc:
        report.failure("change tracking", name, exc, CheckStatus.WARNING, cause_suffix=f"Without it {FULL_RELOAD}",
                       can_be_enabled=info.can_change_tracking_be_enabled)
        return
    except DataverseError as exc:
        _fail(report, "change tracking", target, exc, status=CheckStatus.WARNING,
              cause_suffix=f"Delta reads are refused, so {FULL_RELOAD}")
        return
    report.ok("change tracking", name, "Change tracking is enabled and readable: loads can be incremental.")


def _count_rows(report: CheckReport, client: DataverseClient, tables: dict[str, EntityInfo]) -> None:
    """One ``RetrieveTotalRecordCount`` for all tables (a snapshot up to 24 h old); per-table ``$count``
    (exact up to 5000) for any table it cannot count."""
    counts: dict[str, int] = {}
    try:
        counts = total_record_count(client, list(tables))
    except _ENVIRONMENT_ERRORS as exc:
        _fail(report, "row count", TableTarget(next(iter(tables))), exc)
    except DataverseError:
        counts = {}
    for name, info in tables.items():
        if name in counts:
            report.ok("row count", name, f"{counts[name]} rows (RetrieveTotalRecordCount snapshot, up to 24 h old).",
                      rows=counts[name], source="RetrieveTotalRecordCount")
            continue
        try:
            n = count(client, info.entity_set_name)
        except DataverseError as exc:
            _fail(report, "row count", TableTarget(name), exc, status=CheckStatus.WARNING,
                  cause_suffix="Only the row count is missing; loads are not affected.")
            continue
        capped = n >= 5000
        report.ok("row count", name, f"{'at least ' if capped else ''}{n} rows ($count).", rows=n,
                  source="$count", capped=capped)

