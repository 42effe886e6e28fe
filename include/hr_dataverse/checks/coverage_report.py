""""New HR tables available": what the environment has that the catalog does not sync, and catalog
tables that exist but hold no rows.

* **Uncatalogued HR tables**: one ``EntityDefinitions`` request with a narrow ``$select`` (metadata
  queries are never paged), filtered on the client by prefix (``cdm_``, ``mshr_``, ``mserp_``):
  Dataverse cannot apply ``startswith`` to ``EntityMetadata.LogicalName``. Each becomes a warning
  whose fix is the one catalog line that syncs it.
* **Empty catalog tables**: one ``RetrieveTotalRecordCount`` for the catalog tables the environment
  has; a zero there (a snapshot, up to 24 h old) is confirmed with ``$count``. An empty ``cdm_``
  table usually means its dual-write map is off (since HR runs on finance and operations, only the
  maps that are switched on fill ``cdm_`` tables); an empty virtual table, that F&O holds no rows.

Nothing here is a blocker: the report is advice for the catalog's owner. Errors that stop the
listing are reported as one warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hr_dataverse.dataverse import DataverseClient, DataverseError, count, total_record_count
from hr_dataverse.vocabulary import CheckStatus

from .report import CheckReport

HR_PREFIXES = ("cdm_", "mshr_", "mserp_")
_SELECT = "LogicalName,EntitySetName,TableType"
DUAL_WRITE_HINT = ("an empty cdm_ table usually means its dual-write map is off: since HR moved onto finance and "
                   "operations, only the maps that are switched on fill cdm_ tables")


def catalog_line(name: str) -> str:
    """The one line a user adds under ``tables:`` in the catalog to sync ``name`` (columns from metadata)."""
    return f"- {{name: {name}, required: false}}"


def run_coverage_report(client: DataverseClient, catalogued: Iterable[str], *, count_rows: bool = True) -> CheckReport:
    """Warnings for uncatalogued HR tables and empty catalog tables; never raises for a failed request."""
    report = CheckReport("hr_coverage")
    names = list(dict.fromkeys(catalogued))
    try:
        rows = client.request("GET", "EntityDefinitions", params={"$select": _SELECT}).data.get("value", [])
    except DataverseError as exc:
        report.failure("new HR tables", "environment", exc, CheckStatus.WARNING,
                       cause_suffix="The list of HR tables the catalog does not sync could not be read.")
        return report
    tables = {r["LogicalName"]: r for r in rows if str(r.get("LogicalName", "")).startswith(HR_PREFIXES)}
    new = sorted(set(tables) - set(names))
    for name in new:
        kind = "virtual table" if tables[name].get("TableType") == "Virtual" else "table"
        report.warning("new HR table", name, f"The environment has the HR {kind} '{name}' (entity set "
                       f"{tables[name].get('EntitySetName')}), which the catalog does not sync.",
                       f"To sync it, add this line under 'tables:' in the catalog: {catalog_line(name)}",
                       catalog_line=catalog_line(name), table_type=tables[name].get("TableType"))
    if not new:
        report.ok("new HR table", "environment", f"The catalog syncs every one of the {len(tables)} HR tables "
                  f"({', '.join(HR_PREFIXES)}) this environment has.")
    present = [n for n in names if n in tables]
    if count_rows and present:
        _empty_tables(report, client, present, tables)
    return report


def _empty_tables(report: CheckReport, client: DataverseClient, present: list[str], tables: dict[str, Any]) -> None:
    try:
        counts = total_record_count(client, present)
    except DataverseError:
        counts = {}
    for name in present:
        n = counts.get(name)
        if n is None or n == 0:  # a snapshot can lag: confirm with an exact count
            try:
                n = count(client, tables[name]["EntitySetName"])
            except DataverseError as exc:
                report.failure("row count", name, exc, CheckStatus.WARNING, cause_suffix="Whether it is empty is unknown.")
                continue
        if n:
            continue
        if name.startswith("cdm_"):
            cause = f"The catalog table '{name}' exists but holds no rows: {DUAL_WRITE_HINT}."
            fix = (f"Switch on the dual-write map that fills {name} (Power Platform admin center > environment > "
                   "Dual-write, solution 'Dynamics 365 Human Resources entity maps'), run its initial sync, "
                   "or fall back to F&O OData (catalog 'fno_entity').")
        else:
            cause = f"The catalog table '{name}' exists but holds no rows: finance and operations has none for it."
            fix = f"Check the data in finance and operations, or leave {name} out of the catalog."
        report.warning("empty table", name, cause, fix, rows=0)
