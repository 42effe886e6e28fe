"""The one seam where a task body meets the pipeline core (``hr_dataverse``).

``task_session(subject, conn_id)`` opens the Dataverse hook of connection ``conn_id`` and the
warehouse, yields both, maps what the core raises to Airflow's exceptions and closes everything,
whatever happens. Guarantees:

* a problem a retry cannot fix (privileges, a missing table, a bad setting, schema drift) raises
  ``AirflowFailException`` (no retry); throttling, 5xx, dropped connections and an unreachable
  warehouse raise ``AirflowException`` (Airflow retries); anything else is re-raised as it is, with
  its traceback. The message names the ``subject`` and the fix, never a secret; the core error
  stays on the Airflow exception as ``core_error``;
* the hook's client and the warehouse's engine are closed on every exit;
* :func:`to_xcom` is the one place a core value object becomes XCom's JSON (``to_dict``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from dataverse_provider.hooks.dataverse import DataverseHook
from dataverse_provider.warehouse import WAREHOUSE_CONN_ID

if TYPE_CHECKING:
    from hr_dataverse.dataverse import DataverseClient
    from hr_dataverse.warehouse import Warehouse


class XComValue(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TaskSession:
    """What a task body works with: the Dataverse hook (client built on first use) and the warehouse."""

    hook: DataverseHook
    warehouse: Warehouse

    @property
    def client(self) -> DataverseClient:
        return self.hook.get_conn()


@contextmanager
def task_session(subject: str, conn_id: str = DataverseHook.default_conn_name,
                 warehouse_conn_id: str = WAREHOUSE_CONN_ID) -> Iterator[TaskSession]:
    """Hook + warehouse for one task body; errors mapped by :func:`task_error` (see the module docstring)."""
    from dataverse_provider.warehouse import open_warehouse

    hook = DataverseHook(conn_id)
    warehouse = None
    try:
        warehouse = open_warehouse(warehouse_conn_id)
        yield TaskSession(hook, warehouse)
    except Exception as exc:
        error = task_error(subject, exc)
        if error is None:
            raise
        raise error from None
    finally:
        hook.close()
        if warehouse is not None:
            warehouse.dispose()


def task_error(subject: str, exc: BaseException) -> AirflowException | None:
    """The Airflow exception for ``exc`` raised by the core while working on ``subject`` (e.g.
    ``table 'cdm_job'``, ``URS mapping``); None for unexpected errors (re-raised as they are)."""
    from hr_dataverse.catalog import CatalogError
    from hr_dataverse.checks import is_transient
    from hr_dataverse.dataverse import DataverseError, diagnose
    from hr_dataverse.sync import SyncError
    from hr_dataverse.urs import MappingError
    from hr_dataverse.warehouse import SchemaDriftError, WarehouseConfigError, WarehouseError

    error: AirflowException
    if isinstance(exc, DataverseError):
        error = (AirflowException if is_transient(exc) else AirflowFailException)(f"{subject}: {diagnose(exc)}")
    elif isinstance(exc, MappingError):  # transient when what it wraps is
        cause = exc.__cause__
        transient = isinstance(cause, DataverseError) and is_transient(cause)
        error = (AirflowException if transient else AirflowFailException)(f"{subject}: {exc}")
    elif isinstance(exc, SyncError | SchemaDriftError | CatalogError):  # these name their table already
        error = AirflowFailException(str(exc))
    elif isinstance(exc, WarehouseConfigError):
        error = AirflowFailException(f"{subject}: {exc}")
    elif isinstance(exc, WarehouseError):
        error = AirflowException(f"{subject}: {exc}")
    else:
        return None
    error.core_error = exc  # type: ignore[attr-defined]  # e.g. why an optional table was skipped
    return error


def to_xcom(value: XComValue | Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A core value object as the task's XCom value (plus the edge's own ``extra`` keys); a core
    function that still returns a plain mapping passes through as a copy."""
    data = dict(value) if isinstance(value, Mapping) else value.to_dict()
    return {**data, **extra}
