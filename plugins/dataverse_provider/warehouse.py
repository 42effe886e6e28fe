"""Where the HR warehouse is: the Airflow connection ``hr_warehouse`` when one is defined, else
``$HR_WAREHOUSE_URL``, else the embedded SQLite file ``data/hr_warehouse.db`` of the checkout
(``environment.py``).

The connection may be given as a URI (``AIRFLOW_CONN_HR_WAREHOUSE='postgresql://user:pw@host:5432/db'``
or ``'sqlite:////abs/path/hr.db'``), as a Postgres/SQLite connection in the UI, or as any connection
whose extra ``sqlalchemy_url`` holds the full SQLAlchemy URL. Only called inside tasks.

On a distributed executor (CeleryExecutor; anything but LocalExecutor) a SQLite warehouse is
refused: each worker machine would write its own file. :func:`checked_warehouse_url` and
:func:`open_warehouse` raise ``WarehouseConfigError`` saying to configure PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hr_dataverse.warehouse import Warehouse

WAREHOUSE_CONN_ID = "hr_warehouse"


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str | None:
    """The SQLAlchemy URL of connection ``conn_id``, or None when no such connection exists."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from dataverse_provider.log_safety import guard_mask_requests
    from hr_dataverse.warehouse import WarehouseConfigError

    guard_mask_requests()  # the connection's password is registered with the masker (log_safety)
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    explicit = (conn.extra_dejson.get("sqlalchemy_url") or "").strip()
    if explicit:
        return explicit
    if conn.conn_type in ("postgres", "postgresql"):
        import sqlalchemy as sa

        return sa.URL.create("postgresql+psycopg2", username=conn.login or None, password=conn.password or None,
                             host=conn.host or None, port=conn.port or None,
                             database=conn.schema or None).render_as_string(hide_password=False)
    if conn.conn_type == "sqlite" and conn.host:
        return f"sqlite:///{conn.host}"
    raise WarehouseConfigError(f"connection '{conn_id}' (type {conn.conn_type!r}) does not say where the warehouse "
                               "is: use a Postgres or SQLite connection, or set its extra 'sqlalchemy_url'")


LOCAL_EXECUTORS = ("LocalExecutor",)


def checked_warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """:func:`warehouse_url`, else ``$HR_WAREHOUSE_URL`` or the checkout's SQLite file; refused when it
    is a local SQLite file and tasks run on a distributed executor (the message names the settings to change)."""
    from dataverse_provider.environment import warehouse_url as configured_url

    return _refuse_local_sqlite(warehouse_url(conn_id) or configured_url(), conn_id)


def _refuse_local_sqlite(url: str, conn_id: str) -> str:
    from airflow.configuration import conf

    from hr_dataverse.warehouse import WarehouseConfigError

    executors = [e.strip().split(".")[-1].split(":")[-1] for e in conf.get("core", "executor").split(",") if e.strip()]
    distributed = [e for e in executors if e not in LOCAL_EXECUTORS]
    if distributed and url.startswith("sqlite"):
        raise WarehouseConfigError(
            f"the HR warehouse is a local SQLite file ({url}) but tasks run on {distributed[0]}: "
            f"each worker would write its own copy. Point connection '{conn_id}' (AIRFLOW_CONN_HR_WAREHOUSE) or "
            "HR_WAREHOUSE_URL at PostgreSQL, e.g. postgresql+psycopg2://user:password@host:5432/hr_warehouse")
    return url


def open_warehouse(conn_id: str = WAREHOUSE_CONN_ID) -> Warehouse:
    """The warehouse to load into (see the module docstring for how it is found); a SQLite file is
    refused on a distributed executor."""
    from dataverse_provider.environment import WAREHOUSE_URL_ENV
    from dataverse_provider.environment import warehouse_url as configured_url
    from hr_dataverse.warehouse import Warehouse

    url = warehouse_url(conn_id)
    # Name the setting to fix in connection errors: the connection, else the variable, else the default.
    source = (f"the Airflow connection '{conn_id}'" if url else
              f"${WAREHOUSE_URL_ENV} (no Airflow connection '{conn_id}' is defined)")
    return Warehouse(_refuse_local_sqlite(url or configured_url(), conn_id), source=source)
