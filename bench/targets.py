"""Warehouse targets of the benchmark: a SQLite file, or a dedicated PostgreSQL schema; each run
starts from an empty one (except the delta, which follows the full load)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from .settings import BenchSettings


@dataclass(frozen=True)
class Target:
    backend: str
    url: str
    schema: str | None

    def reset(self) -> None:
        """Drop everything a previous run left (the file, or the schema with its tables)."""
        if self.backend == "sqlite":
            path = Path(sa.make_url(self.url).database or "")
            for suffix in ("", "-wal", "-shm", "-journal"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            return
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            engine.dispose()

    def problem(self) -> str | None:
        """Why the target cannot be used (PostgreSQL unreachable), or None."""
        if self.backend == "sqlite":
            return None
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            first = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()[0]
            return f"PostgreSQL not reachable at {sa.make_url(self.url).render_as_string()}: {first}"
        finally:
            engine.dispose()
        return None


def target_for(backend: str, settings: BenchSettings) -> Target:
    if backend == "sqlite":
        return Target("sqlite", f"sqlite:///{(settings.out_dir / 'hr_bench.db').resolve()}", None)
    return Target("postgres", settings.postgres_url, settings.postgres_schema)
