"""Helpers more than one test folder uses (importable everywhere: ``tests/`` holds the root conftest)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa


def find_chromium() -> str:
    """Debian's headless Chromium; skips locally without it, fails under CI (``make test`` installs it)."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; `make test` installs Debian's chromium package")
        pytest.skip("chromium is not installed (`make test` installs it: apt-get install chromium)")
    return found


def drop_schemas(postgres_url: str, prefix: str) -> None:
    """Drop every PostgreSQL schema whose name starts with ``prefix`` (a test's own, uniquely named)."""
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            names = conn.scalars(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                                 {"p": f"{prefix}%"}).all()
            for name in names:
                conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        engine.dispose()
