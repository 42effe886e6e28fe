"""Task bodies of the ``hr_dataverse_admin`` DAG: the HR Dataverse integration page's actions.

* Sync now -> the DAG queues a ``hr_dataverse_sync`` run with ``{"tables": [table], "mode": "full"}``
  (so it waits for a running sync instead of loading the same table twice at once);
* Clear tracking information -> :func:`clear_tracking`;
* Turn integration off/on -> :func:`hr_deployment.integration.write_switch`;
* View linked rows -> :func:`view_linked_rows`.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

log = logging.getLogger(__name__)

ACTIONS = {
    "sync_now": "Sync now: full resync of one table",
    "clear_tracking": "Clear tracking information: next run of the table is a full load",
    "turn_off": "Turn integration off: scheduled syncs are skipped, state is kept",
    "turn_on": "Turn integration on",
    "view_linked_rows": "View linked rows",
}
NEEDS_TABLE = ("sync_now", "clear_tracking")


def choose_action(action: str, table: str | None) -> str:
    """The task id that performs ``action``; fails with the reason when the input does not fit."""
    from dataverse_provider.environment import configured_catalog
    from hr_dataverse.catalog import CatalogError
    from hr_deployment.integration import read_switch

    if action not in ACTIONS:
        raise AirflowFailException(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if action in NEEDS_TABLE and not table:
        raise AirflowFailException(f"'{ACTIONS[action]}' needs a table: pick one in the Table field")
    if table:
        try:
            configured_catalog().get(table)
        except CatalogError as exc:
            raise AirflowFailException("\n".join(exc.problems)) from None
    if action == "sync_now":
        try:
            switch = read_switch()
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from None
        if not switch.enabled:
            raise AirflowFailException(f"Cannot sync now: {switch.describe()}. Turn it on first (action 'Turn "
                                       "integration on').")
    log.info("%s%s", ACTIONS[action], f" ({table})" if table else "")
    return action


def clear_tracking(table: str) -> dict[str, Any]:
    """Forget ``table``'s delta link; its next sync is a full load. Rows stay."""
    from dataverse_provider.edge import task_session
    from hr_dataverse.sync import clear_tracking as clear

    with task_session(f"table '{table}'") as session:  # the warehouse only: no Dataverse request
        cleared = clear(session.warehouse, table, log=log)
    if not cleared:
        log.warning("table %s has never been synced: there is no tracking information to clear", table)
    return {"table": table, "cleared": cleared}


def view_linked_rows(table: str | None, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of the ``hr_linked_rows`` view (most recently synced first), logged as
    a table and returned (ids and timestamps only, no HR data)."""
    from dataverse_provider.edge import task_session
    from dataverse_provider.environment import configured_catalog
    from hr_dataverse.sync import linked_rows

    with task_session("linked rows") as session:  # the warehouse only
        try:
            rows = linked_rows(session.warehouse, configured_catalog(), table, limit=limit)
        except ValueError as exc:  # CatalogError is a ValueError too
            raise AirflowFailException(str(exc)) from None
    if not rows:
        log.warning("no linked rows%s: nothing has been synced yet", f" for {table}" if table else "")
        return []
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    log.info("%s", "  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        log.info("%s", "  ".join(str(row[c]).ljust(widths[c]) for c in columns))
    log.info("%d row(s) shown (limit %d)", len(rows), limit)
    return rows
