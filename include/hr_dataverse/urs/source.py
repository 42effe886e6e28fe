"""Read the HR rows the mapping needs from the warehouse (tables the sync keeps current).

Tables are the catalog's (logical names; lookups as ``_<lookup>_value``), with the HR virtual-table
prefix from the settings. ``changed_scope`` finds what changed since a watermark: rows whose
``_synced_at`` is later (soft deletes bump it too), plus rows whose dates cross into the evaluation
window (employment start/end, certificate start/end), since a certificate expires and an employment
ends without any HR change.

Worker skill and certificate rows are joined to workers by their worker lookup
(``_<prefix>fk_worker_id_value``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa

from ..warehouse import Warehouse, WarehouseError
from .errors import MappingError
from .rules import (
    CertificateType,
    Employment,
    HrData,
    RatingLevel,
    RatingModel,
    Scope,
    Skill,
    Worker,
    WorkerCertificate,
    WorkerSkill,
)
from .settings import MappingSettings

_IN_CHUNK = 500  # ids per IN (...) list: well below every backend's parameter limit


class HrSource:
    def __init__(self, warehouse: Warehouse, settings: MappingSettings) -> None:
        self.warehouse = warehouse
        p = settings.hr_prefix
        self.p = p
        self.names = {
            "worker": "cdm_worker", "employment": "cdm_employment",
            "model": f"{p}hcmratingmodelentity", "level": f"{p}hcmratinglevelentity",
            "skill": f"{p}hcmskillentity", "certificate_type": f"{p}hcmcertificatetypeentity",
            "worker_skill": f"{p}hcmworkerskillentity", "worker_certificate": f"{p}hcmworkercertificateentity",
        }
        self.columns = {
            "worker": ["cdm_workerid", "cdm_workernumber", "cdm_fullname", "cdm_firstname", "cdm_lastname",
                       "cdm_status"],
            "employment": ["cdm_employmentid", "_cdm_workerid_value", "cdm_employmentstartdate",
                           "cdm_employmentenddate"],
            "model": [f"{p}hcmratingmodelentityid", f"{p}ratingmodelid", f"{p}description"],
            "level": [f"{p}hcmratinglevelentityid", f"_{p}fk_ratingmodelentity_id_value", f"{p}ratingmodelid",
                      f"{p}ratinglevelid", f"{p}description", f"{p}factor"],
            "skill": [f"{p}hcmskillentityid", f"{p}skillid", f"{p}description"],
            "certificate_type": [f"{p}hcmcertificatetypeentityid", f"{p}certificatetype", f"{p}description"],
            "worker_skill": [f"{p}hcmworkerskillentityid", f"_{p}fk_worker_id_value", f"_{p}fk_skill_id_value",
                             f"_{p}fk_ratinglevel_id_value", f"{p}leveltype", f"{p}leveldate"],
            "worker_certificate": [f"{p}hcmworkercertificateentityid", f"_{p}fk_worker_id_value",
                                   f"_{p}fk_certificatetype_id_value", f"{p}startdate", f"{p}enddate"],
        }
        self._tables: dict[str, sa.Table] = {}

    def table(self, kind: str) -> sa.Table:
        """The warehouse table of an HR table; ``MappingError`` when it or a column the mapping reads is missing."""
        if kind not in self._tables:
            name = self.names[kind]
            try:
                table = self.warehouse.table(name)
            except WarehouseError:
                raise MappingError(f"HR table '{name}' is not in the warehouse yet: sync it before mapping "
                                   f"(the mapping reads {', '.join(self.names.values())})") from None
            missing = [c for c in self.columns[kind] if c not in table.c]
            if missing:
                raise MappingError(f"warehouse table '{name}' has no column(s) {', '.join(missing)}, which the "
                                   "mapping reads: add them to the catalog entry and sync again")
            self._tables[kind] = table
        return self._tables[kind]

    def high_water(self) -> datetime | None:
        """The latest ``_synced_at`` over every table the mapping reads."""
        marks = []
        with self.warehouse.engine.connect() as conn:
            for kind in self.names:
                marks.append(conn.scalar(sa.select(sa.func.max(self.table(kind).c._synced_at))))
        return max((m for m in marks if m is not None), default=None)

    # --- what changed ----------------------------------------------------------------------------

    def changed_scope(self, since: datetime, window: tuple[date, date]) -> Scope:
        """HR ids to re-evaluate: rows synced after ``since`` and rows with a date inside ``window``."""
        p = self.p
        lo, hi = datetime.combine(window[0], time.min, UTC), datetime.combine(window[1], time.max, UTC)
        t = {kind: self.table(kind) for kind in self.names}

        def synced(kind: str) -> sa.ColumnElement[bool]:
            return t[kind].c._synced_at > since

        def dated(kind: str, *columns: str) -> sa.ColumnElement[bool]:
            return sa.or_(*(t[kind].c[c].between(lo, hi) for c in columns))

        with self.warehouse.engine.connect() as conn:
            def ids(column: sa.ColumnElement[Any], where: sa.ColumnElement[bool]) -> set[str]:
                return {str(v) for v in conn.scalars(sa.select(column).where(where).distinct()) if v is not None}

            level = t["level"]
            models = ids(t["model"].c[f"{p}hcmratingmodelentityid"], synced("model"))
            models |= ids(level.c[f"_{p}fk_ratingmodelentity_id_value"], synced("level"))
            codes = ids(level.c[f"{p}ratingmodelid"], synced("level"))
            models |= self._ids_where(conn, t["model"].c[f"{p}hcmratingmodelentityid"],
                                      t["model"].c[f"{p}ratingmodelid"], codes)
            skills = ids(t["skill"].c[f"{p}hcmskillentityid"], synced("skill"))
            types = ids(t["certificate_type"].c[f"{p}hcmcertificatetypeentityid"], synced("certificate_type"))
            ws, wc = t["worker_skill"], t["worker_certificate"]
            workers = ids(t["worker"].c.cdm_workerid, synced("worker"))
            workers |= ids(t["employment"].c._cdm_workerid_value, sa.or_(
                synced("employment"), dated("employment", "cdm_employmentstartdate", "cdm_employmentenddate")))
            workers |= ids(ws.c[f"_{p}fk_worker_id_value"], synced("worker_skill"))
            workers |= ids(wc.c[f"_{p}fk_worker_id_value"], sa.or_(
                synced("worker_certificate"), dated("worker_certificate", f"{p}startdate", f"{p}enddate")))
            # A skill or certificate type that changed (or went) changes the links of its holders.
            workers |= self._ids_where(conn, ws.c[f"_{p}fk_worker_id_value"], ws.c[f"_{p}fk_skill_id_value"], skills)
            workers |= self._ids_where(conn, wc.c[f"_{p}fk_worker_id_value"],
                                       wc.c[f"_{p}fk_certificatetype_id_value"], types)
        return Scope(frozenset(models), frozenset(skills), frozenset(types), frozenset(workers))

    @staticmethod
    def _ids_where(conn: sa.Connection, column: sa.ColumnElement[Any], key: sa.ColumnElement[Any],
                   values: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for chunk in _chunks(sorted(values)):
            out |= {str(v) for v in conn.scalars(sa.select(column).where(key.in_(chunk)).distinct())
                    if v is not None}
        return out

    # --- rows ------------------------------------------------------------------------------------

    def load(self, scope: Scope) -> HrData:
        """Live catalogue rows (all) and the live rows of the workers in ``scope``."""
        p = self.p
        with self.warehouse.engine.connect() as conn:
            models = [RatingModel(str(r[f"{p}hcmratingmodelentityid"]), _text(r[f"{p}ratingmodelid"]),
                                  r[f"{p}description"]) for r in self._live(conn, "model")]
            levels = [RatingLevel(str(r[f"{p}hcmratinglevelentityid"]), _id(r[f"_{p}fk_ratingmodelentity_id_value"]),
                                  _text(r[f"{p}ratingmodelid"]), _text(r[f"{p}ratinglevelid"]), r[f"{p}description"],
                                  int(r[f"{p}factor"] or 0)) for r in self._live(conn, "level")]
            skills = [Skill(str(r[f"{p}hcmskillentityid"]), _text(r[f"{p}skillid"]), r[f"{p}description"])
                      for r in self._live(conn, "skill")]
            types = [CertificateType(str(r[f"{p}hcmcertificatetypeentityid"]), _text(r[f"{p}certificatetype"]),
                                     r[f"{p}description"]) for r in self._live(conn, "certificate_type")]
            workers = [Worker(str(r["cdm_workerid"]), _text(r["cdm_workernumber"]), _worker_name(r), r["cdm_status"])
                       for r in self._for_workers(conn, "worker", "cdm_workerid", scope.workers)]
            employments = [Employment(str(r["cdm_employmentid"]), str(r["_cdm_workerid_value"]),
                                      _date(r["cdm_employmentstartdate"]), _date(r["cdm_employmentenddate"]))
                           for r in self._for_workers(conn, "employment", "_cdm_workerid_value", scope.workers)]
            worker_skills = [
                WorkerSkill(str(r[f"{p}hcmworkerskillentityid"]), str(r[f"_{p}fk_worker_id_value"]),
                            _id(r[f"_{p}fk_skill_id_value"]), _id(r[f"_{p}fk_ratinglevel_id_value"]),
                            r[f"{p}leveltype"], r[f"{p}leveldate"])
                for r in self._for_workers(conn, "worker_skill", f"_{p}fk_worker_id_value", scope.workers)]
            certificates = [
                WorkerCertificate(str(r[f"{p}hcmworkercertificateentityid"]), str(r[f"_{p}fk_worker_id_value"]),
                                  _id(r[f"_{p}fk_certificatetype_id_value"]), _date(r[f"{p}startdate"]),
                                  _date(r[f"{p}enddate"]))
                for r in self._for_workers(conn, "worker_certificate", f"_{p}fk_worker_id_value", scope.workers)]
        return HrData(models, levels, skills, types, workers, employments, worker_skills, certificates)

    def _live(self, conn: sa.Connection, kind: str) -> list[sa.RowMapping]:
        table = self.table(kind)
        return list(conn.execute(sa.select(table).where(table.c._deleted_at.is_(None))).mappings())

    def _for_workers(self, conn: sa.Connection, kind: str, column: str,
                     workers: frozenset[str] | None) -> Iterator[sa.RowMapping]:
        table = self.table(kind)
        live = sa.and_(table.c._deleted_at.is_(None), table.c[column].is_not(None))
        if workers is None:
            yield from conn.execute(sa.select(table).where(live)).mappings()
            return
        for chunk in _chunks(sorted(workers)):
            yield from conn.execute(sa.select(table).where(live, table.c[column].in_(chunk))).mappings()


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start:start + _IN_CHUNK]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _id(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _date(value: Any) -> date | None:
    """A warehouse date or timestamp as the UTC calendar day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value


def _worker_name(row: sa.RowMapping) -> str:
    full = (row["cdm_fullname"] or "").strip()
    if full:
        return full
    parts = [(row["cdm_firstname"] or "").strip(), (row["cdm_lastname"] or "").strip()]
    return " ".join(p for p in parts if p) or _text(row["cdm_workernumber"])
