"""An unreachable or misconfigured warehouse raises a clear error naming the setting to fix, never a
raw SQLAlchemy OperationalError, and never shows the password."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from hr_dataverse.warehouse import Warehouse, WarehouseConfigError, WarehouseError, WarehouseUnavailableError

SOURCE = "the Airflow connection 'hr_warehouse'"


def closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_postgres_names_the_setting_and_hides_the_password():
    port = closed_port()
    wh = Warehouse(f"postgresql+psycopg2://loader:s3cret-pw@127.0.0.1:{port}/hr", source=SOURCE)
    with pytest.raises(WarehouseUnavailableError) as caught:
        wh.get_state("cdm_worker")
    message = str(caught.value)
    assert f"cannot reach the warehouse postgresql+psycopg2://loader:***@127.0.0.1:{port}/hr" in message
    assert "Connection refused" in message or "connection refused" in message.lower()
    assert f"fix the host/port in {SOURCE}" in message
    assert "s3cret-pw" not in message and not isinstance(caught.value, sa.exc.SQLAlchemyError)
    wh.dispose()


@pytest.mark.postgres
def test_missing_postgres_database_is_a_configuration_error(postgres_url):
    url = sa.make_url(postgres_url).set(database="hr_no_such_database_12b")
    wh = Warehouse(url, source=SOURCE)
    with pytest.raises(WarehouseConfigError) as caught:
        wh.states()
    message = str(caught.value)
    assert 'database "hr_no_such_database_12b" does not exist' in message
    assert f"Fix {SOURCE}: its user, password, database name or file path" in message
    wh.dispose()


def test_unopenable_sqlite_file_names_the_default_setting(tmp_path):
    folder = tmp_path / "a_folder.db"
    folder.mkdir()  # a directory where the database file should be
    wh = Warehouse(f"sqlite:///{folder}")
    with pytest.raises(WarehouseConfigError) as caught:
        wh.states()
    assert "unable to open database file" in str(caught.value)
    assert "Fix the warehouse URL passed in" in str(caught.value)
    wh.dispose()


def test_statement_errors_are_not_rewritten(tmp_path):
    wh = Warehouse(f"sqlite:///{tmp_path / 'ok.db'}")
    with wh.engine.connect() as conn, pytest.raises(sa.exc.OperationalError):
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert issubclass(WarehouseUnavailableError, WarehouseError)
    wh.dispose()
