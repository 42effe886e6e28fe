"""The one lock abstraction (``hr_dataverse.locks``): a second holder waits for the first, gives up
after its wait with ``LockBusyError``, and is told when it waited; on SQLite (file lock) and
PostgreSQL (advisory lock). The load, mapping and quality locks are built on it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from hr_dataverse.locks import LockBusyError, database_lock, file_lock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'hr.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def test_a_second_holder_waits_for_the_first(engine: sa.Engine) -> None:
    order: list[str] = []
    waited: list[float] = []

    def second() -> None:
        with database_lock(engine, "test-lock", ".test.lock", on_wait=lambda: order.append("waiting"),
                           on_acquired=waited.append):
            order.append("second")

    with database_lock(engine, "test-lock", ".test.lock"):
        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive() and order == ["waiting"]  # blocks while the first holds the lock
        order.append("first")
    waiter.join(timeout=5)
    assert order == ["waiting", "first", "second"] and len(waited) == 1 and waited[0] > 0


def test_a_bounded_wait_gives_up_and_a_free_lock_is_taken_at_once(engine: sa.Engine) -> None:
    got: list[str] = []
    with database_lock(engine, "busy", ".busy.lock"):
        def other() -> None:
            try:
                with database_lock(engine, "busy", ".busy.lock", wait_s=0.3, poll_s=0.05):
                    got.append("taken")
            except LockBusyError as exc:
                got.append(f"busy {exc.waited_s >= 0.3}")

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=5)
    assert got == ["busy True"]
    acquired: list[float] = []
    with database_lock(engine, "busy", ".busy.lock", wait_s=0, on_acquired=acquired.append):
        assert acquired == []  # free: no wait to report


def test_file_lock_creates_its_folder_and_refuses_a_negative_wait(tmp_path: Path) -> None:
    with file_lock(tmp_path / "a" / "b" / ".lock"):
        assert (tmp_path / "a" / "b" / ".lock").is_file()
    with pytest.raises(ValueError, match="must not be negative"), file_lock(tmp_path / ".lock", wait_s=-1):
        pass
