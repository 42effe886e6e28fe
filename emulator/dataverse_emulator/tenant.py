"""Tenant variants: an environment that lacks what the full emulator has installed.

The synthetic data is generated for the full schema; ``tailor`` then removes what the configured
tenant does not have, so every variant keeps the same seeded HR rows:

* ``urs_installed=False``: no Universal Resource Scheduling tables (the Scheduling solution is not
  installed), so ``EntityDefinitions(LogicalName='characteristic')`` is a 404 like any unknown table;
* ``hr_virtual_tables=False``: no HR virtual tables (``mshr_``): an HR tenant without them;
* ``bookableresource_worker_lookup=False``: ``bookableresource`` has no Worker lookup (the
  "HR integration to URS" solution that adds it is not installed).

Withheld privileges (``withheld_privileges``) are applied to the default role in ``security.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .config import EmulatorConfig
from .schema import URS_TABLES, TableDef, hr_tables


def tailor(schema: dict[str, TableDef], rows: dict[str, list[dict[str, Any]]], config: EmulatorConfig
           ) -> tuple[dict[str, TableDef], dict[str, list[dict[str, Any]]]]:
    """The schema and rows of the configured tenant (unchanged when everything is installed)."""
    absent: set[str] = set()
    if not config.urs_installed:
        absent |= set(URS_TABLES)
    if not config.hr_virtual_tables:
        absent |= {t for t in hr_tables(config.hr_virtual_prefix) if t.startswith(config.hr_virtual_prefix)}
    schema = {name: table for name, table in schema.items() if name not in absent}
    rows = {name: table_rows for name, table_rows in rows.items() if name not in absent}
    resource = schema.get("bookableresource")
    if resource is not None and not config.bookableresource_worker_lookup:
        column = config.bookableresource_worker_column
        schema["bookableresource"] = replace(
            resource, attributes={k: a for k, a in resource.attributes.items() if k != column})
        rows["bookableresource"] = [{k: v for k, v in r.items() if k != column} for r in rows["bookableresource"]]
    return schema, rows
