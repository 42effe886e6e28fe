"""The mapping rules, as pure functions: HR records in, the URS rows they call for out.

``desired_state(hr, scope, settings, today)`` returns, per URS table, the rows that should exist
and be active, each under a stable HR key, plus the *scope* it evaluated (which mapped rows a missing
desired row means "remove"). No I/O: ``source.py`` reads the records, ``plan.py`` diffs the result
against the mapping state.

Rules (hr-urs-data-model.md §4; the choices the documentation leaves open are settings, see
``settings.py``):

* rating model → ``ratingmodel`` named by the model id, min/max = smallest/largest value of its levels;
  rating level → ``ratingvalue`` named by the level description (else its id) in that model, value
  per ``level_value_rule``. Two levels of one model with the same value cannot both exist in URS:
  the later one (by level id) is reported as a problem.
* skill → ``characteristic`` type 1 (Skill); certificate type → type 2 (Certification); named by the
  HR id (unique in HR), described by the HR description (cut to URS's 100 characters). A second HR
  row whose id differs only in case is reported, as URS names must be unique per type.
* worker → ``bookableresource`` named by the worker's full name (else first + last name, else the
  personnel number) when eligible: live, with ``cdm_status`` = ``active_worker_status`` and — unless
  ``active_employment_only`` is off — an employment current on ``today`` (started, not ended before
  today). Resource type, time zone and the Worker lookup are set on create only (the Worker field is
  editable only on create [C S6]).
* worker skill (Actual only; the latest level date wins when HR keeps several ratings of one skill)
  → ``bookableresourcecharacteristic`` with the skill's characteristic and the level's rating value
  (none when the rating has no live level).
* worker certificate → ``bookableresourcecharacteristic`` of the certificate type's characteristic,
  no rating, while at least one certificate of that type has started and — with
  ``expired_certificates="remove"`` — has not ended before today.
* characteristics of a worker who is not eligible are not evaluated: a deactivated resource keeps
  the characteristics it had, as when the Microsoft integration is turned off.

Keys: rating model / level / worker → the HR GUID; characteristic → ``skill:<guid>`` or
``certificate:<guid>``; resource characteristic → ``<worker guid>/skill|certificate/<guid>``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..dataverse.writes import EntityTable
from .settings import URS_VALUE_RANGE, MappingSettings

LEVEL_TYPE_ACTUAL = 200000000  # mshr_hrmskillleveltype Actual [C S7]
SKILL_TYPE, CERTIFICATION_TYPE = 1, 2  # characteristic.characteristictype [C S10]
NAME_LENGTH = 100  # name/description length of the URS tables [C S10]

RATINGMODEL = EntityTable("ratingmodel", "ratingmodels", "ratingmodelid")
RATINGVALUE = EntityTable("ratingvalue", "ratingvalues", "ratingvalueid")
CHARACTERISTIC = EntityTable("characteristic", "characteristics", "characteristicid")
RESOURCE = EntityTable("bookableresource", "bookableresources", "bookableresourceid")
RESOURCE_CHARACTERISTIC = EntityTable("bookableresourcecharacteristic", "bookableresourcecharacteristics",
                                      "bookableresourcecharacteristicid")
# Dependency order: each table only refers to tables before it.
TARGETS = (RATINGMODEL, RATINGVALUE, CHARACTERISTIC, RESOURCE, RESOURCE_CHARACTERISTIC)
TARGET_BY_NAME = {t.logical_name: t for t in TARGETS}
# Navigation properties for @odata.bind [C S10]; the Worker lookup's is a setting.
NAV_RATING_MODEL, NAV_RESOURCE, NAV_CHARACTERISTIC, NAV_RATING_VALUE = (
    "RatingModel", "Resource", "Characteristic", "RatingValue")


# --- HR records (source.py builds them from warehouse rows) ----------------------------------------


@dataclass(frozen=True)
class RatingModel:
    id: str
    code: str  # mshr_ratingmodelid, e.g. "Skills"
    description: str | None = None


@dataclass(frozen=True)
class RatingLevel:
    id: str
    model_id: str | None  # lookup to the rating model (None: matched by model_code)
    model_code: str
    code: str
    description: str | None
    factor: int


@dataclass(frozen=True)
class Skill:
    id: str
    code: str
    description: str | None = None


@dataclass(frozen=True)
class CertificateType:
    id: str
    code: str
    description: str | None = None


@dataclass(frozen=True)
class Worker:
    id: str
    number: str
    name: str
    status: int | None


@dataclass(frozen=True)
class Employment:
    id: str
    worker_id: str
    start: date | None
    end: date | None


@dataclass(frozen=True)
class WorkerSkill:
    id: str
    worker_id: str
    skill_id: str | None
    level_id: str | None
    level_type: int | None
    level_date: datetime | None


@dataclass(frozen=True)
class WorkerCertificate:
    id: str
    worker_id: str
    certificate_type_id: str | None
    start: date | None
    end: date | None


@dataclass(frozen=True)
class HrData:
    """Live HR rows. Catalogues are complete; worker rows cover the workers in scope."""

    models: list[RatingModel] = field(default_factory=list)
    levels: list[RatingLevel] = field(default_factory=list)
    skills: list[Skill] = field(default_factory=list)
    certificate_types: list[CertificateType] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    employments: list[Employment] = field(default_factory=list)
    worker_skills: list[WorkerSkill] = field(default_factory=list)
    worker_certificates: list[WorkerCertificate] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    """HR ids a run re-evaluates (deleted ones included); None = all of that kind."""

    models: frozenset[str] | None = None
    skills: frozenset[str] | None = None
    certificate_types: frozenset[str] | None = None
    workers: frozenset[str] | None = None

    @property
    def is_everything(self) -> bool:
        return all(v is None for v in (self.models, self.skills, self.certificate_types, self.workers))


# --- desired URS rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A reference to another mapped row, by target table and HR key."""

    table: str
    key: str


@dataclass(frozen=True)
class DesiredRow:
    """A URS row that should exist and be active. ``fields`` and ``refs`` are written on create
    and update; ``create_only`` only on create. ``scope`` is the unit of re-evaluation."""

    table: str
    key: str
    scope: str
    source: str  # the HR table the row comes from
    label: str
    fields: Mapping[str, Any]
    refs: Mapping[str, Ref] = field(default_factory=dict)
    create_only: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """An HR row that cannot become a URS row; reported, never written."""

    table: str
    key: str
    label: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"table": self.table, "key": self.key, "label": self.label, "message": self.message}


@dataclass
class DesiredState:
    rows: dict[str, dict[str, DesiredRow]]
    scopes: dict[str, frozenset[str] | None]  # per table: scope values evaluated (None = every mapped row)
    problems: list[Problem]

    def add(self, row: DesiredRow) -> None:
        self.rows[row.table][row.key] = row


def characteristic_key(kind: str, hr_id: str) -> str:
    return f"{kind}:{hr_id}"


def link_key(worker_id: str, kind: str, hr_id: str) -> str:
    return f"{worker_id}/{kind}/{hr_id}"


def desired_state(hr: HrData, scope: Scope, settings: MappingSettings, today: date) -> DesiredState:
    state = DesiredState({t.logical_name: {} for t in TARGETS}, {}, [])
    _rating_models(hr, scope, settings, state)
    _characteristics(hr, scope, settings, state)
    _resources(hr, scope, settings, today, state)
    return state


def _rating_models(hr: HrData, scope: Scope, settings: MappingSettings, state: DesiredState) -> None:
    model_table, level_table = settings.hr_table("hcmratingmodelentity"), settings.hr_table("hcmratinglevelentity")
    by_code = {m.code: m.id for m in sorted(hr.models, key=lambda m: m.id, reverse=True)}
    known = {m.id for m in hr.models}
    levels: dict[str, list[RatingLevel]] = defaultdict(list)
    for level in hr.levels:
        model_id = level.model_id if level.model_id in known else by_code.get(level.model_code)
        if model_id is not None:
            levels[model_id].append(level)
    state.scopes[RATINGMODEL.logical_name] = scope.models
    state.scopes[RATINGVALUE.logical_name] = scope.models
    low, high = URS_VALUE_RANGE
    for model in hr.models:
        if scope.models is not None and model.id not in scope.models:
            continue
        label = f"rating model {model.code!r}"
        if not model.code.strip():
            state.problems.append(Problem(RATINGMODEL.logical_name, model.id, label, "the rating model has no id"))
            continue
        ordered = sorted(levels[model.id], key=lambda lv: (lv.factor, lv.code, lv.id))
        values: dict[int, RatingLevel] = {}
        for rank, level in enumerate(ordered, start=1):
            value = level.factor if settings.level_value_rule == "factor" else rank
            level_label = f"rating level {model.code!r}/{level.code!r}"
            if value in values:
                state.problems.append(Problem(RATINGVALUE.logical_name, level.id, level_label,
                                              f"value {value} is already used by level {values[value].code!r} of "
                                              "the same model; URS rating values must be unique per model"))
                continue
            if not low <= value <= high:
                state.problems.append(Problem(RATINGVALUE.logical_name, level.id, level_label,
                                              f"value {value} is outside URS's range {low}..{high}"))
                continue
            values[value] = level
            state.add(DesiredRow(
                RATINGVALUE.logical_name, level.id, model.id, level_table, level_label,
                {"name": _cut(level.description or level.code), "value": value},
                {NAV_RATING_MODEL: Ref(RATINGMODEL.logical_name, model.id)},
            ))
        state.add(DesiredRow(
            RATINGMODEL.logical_name, model.id, model.id, model_table, label,
            {"name": _cut(model.code), "minratingvalue": min(values, default=0),
             "maxratingvalue": max(values, default=0)},
        ))


def _characteristics(hr: HrData, scope: Scope, settings: MappingSettings, state: DesiredState) -> None:
    kinds = (
        ("skill", SKILL_TYPE, hr.skills, scope.skills, settings.hr_table("hcmskillentity")),
        ("certificate", CERTIFICATION_TYPE, hr.certificate_types, scope.certificate_types,
         settings.hr_table("hcmcertificatetypeentity")),
    )
    scopes: set[str] | None = set()
    for kind, type_value, rows, wanted, source in kinds:
        if wanted is None or scopes is None:
            scopes = None
        else:
            scopes |= {characteristic_key(kind, i) for i in wanted}
        names: dict[str, Skill | CertificateType] = {}
        for row in sorted(rows, key=lambda r: r.id):
            key = characteristic_key(kind, row.id)
            label = f"{'skill' if kind == 'skill' else 'certificate type'} {row.code!r}"
            name = _cut(row.code.strip())
            clash = names.get(name.lower())
            if wanted is not None and row.id not in wanted:
                names.setdefault(name.lower(), row)
                continue
            if not name or clash is not None:
                reason = "has no id" if not name else \
                    f"has the same name as {clash.code!r} ({clash.id}); URS characteristic names are unique per type"
                state.problems.append(Problem(CHARACTERISTIC.logical_name, key, label, reason))
                continue
            names[name.lower()] = row
            state.add(DesiredRow(
                CHARACTERISTIC.logical_name, key, key, source, label,
                {"name": name, "characteristictype": type_value,
                 "description": _cut(row.description) if row.description else None},
            ))
    state.scopes[CHARACTERISTIC.logical_name] = frozenset(scopes) if scopes is not None else None


def _resources(hr: HrData, scope: Scope, settings: MappingSettings, today: date, state: DesiredState) -> None:
    employments = _group(hr.employments, lambda e: e.worker_id)
    skills_of = _group(hr.worker_skills, lambda s: s.worker_id)
    certificates_of = _group(hr.worker_certificates, lambda c: c.worker_id)
    skills = {s.id: s for s in hr.skills}
    certificate_types = {c.id: c for c in hr.certificate_types}
    levels = {lv.id for lv in hr.levels}
    eligible: set[str] = set()
    for worker in hr.workers:
        if scope.workers is not None and worker.id not in scope.workers:
            continue
        if not is_eligible(worker, employments.get(worker.id, []), settings, today):
            continue
        eligible.add(worker.id)
        label = f"worker {worker.number} ({worker.name})"
        state.add(DesiredRow(
            RESOURCE.logical_name, worker.id, worker.id, "cdm_worker", label, {"name": _cut(worker.name)},
            create_only={"resourcetype": settings.resource_type, "timezone": settings.resource_timezone,
                         f"{settings.worker_navigation}@odata.bind": f"/cdm_workers({worker.id})"},
        ))
        for row in _skill_links(worker, skills_of.get(worker.id, []), skills, levels, settings):
            state.add(row)
        for row in _certificate_links(worker, certificates_of.get(worker.id, []), certificate_types, settings,
                                      today):
            state.add(row)
    state.scopes[RESOURCE.logical_name] = scope.workers
    state.scopes[RESOURCE_CHARACTERISTIC.logical_name] = frozenset(eligible)


def is_eligible(worker: Worker, employments: Iterable[Employment], settings: MappingSettings, today: date) -> bool:
    if settings.active_worker_status is not None and worker.status != settings.active_worker_status:
        return False
    if not settings.active_employment_only:
        return True
    return any((e.start is None or e.start <= today) and (e.end is None or e.end >= today) for e in employments)


def _skill_links(worker: Worker, rows: list[WorkerSkill], skills: dict[str, Skill], levels: set[str],
                 settings: MappingSettings) -> Iterable[DesiredRow]:
    latest: dict[str, WorkerSkill] = {}
    for row in rows:
        if row.level_type != LEVEL_TYPE_ACTUAL or row.skill_id not in skills:
            continue
        current = latest.get(row.skill_id)
        if current is None or _rated_later(row, current):
            latest[row.skill_id] = row
    for skill_id, row in sorted(latest.items()):
        refs = {NAV_RESOURCE: Ref(RESOURCE.logical_name, worker.id),
                NAV_CHARACTERISTIC: Ref(CHARACTERISTIC.logical_name, characteristic_key("skill", skill_id))}
        if row.level_id in levels:
            refs[NAV_RATING_VALUE] = Ref(RATINGVALUE.logical_name, row.level_id)
        yield DesiredRow(RESOURCE_CHARACTERISTIC.logical_name, link_key(worker.id, "skill", skill_id), worker.id,
                         settings.hr_table("hcmworkerskillentity"),
                         f"worker {worker.number}: skill {skills[skill_id].code!r}", {}, refs)


def _rated_later(row: WorkerSkill, other: WorkerSkill) -> bool:
    def order(r: WorkerSkill) -> tuple[float, str]:
        return (r.level_date.timestamp() if r.level_date else float("-inf"), r.id)

    return order(row) > order(other)


def _certificate_links(worker: Worker, rows: list[WorkerCertificate], types: dict[str, CertificateType],
                       settings: MappingSettings, today: date) -> Iterable[DesiredRow]:
    held: set[str] = set()
    for row in rows:
        if row.certificate_type_id not in types or (row.start is not None and row.start > today):
            continue
        if settings.expired_certificates == "remove" and row.end is not None and row.end < today:
            continue
        held.add(row.certificate_type_id)
    for type_id in sorted(held):
        refs = {NAV_RESOURCE: Ref(RESOURCE.logical_name, worker.id),
                NAV_CHARACTERISTIC: Ref(CHARACTERISTIC.logical_name, characteristic_key("certificate", type_id))}
        yield DesiredRow(RESOURCE_CHARACTERISTIC.logical_name, link_key(worker.id, "certificate", type_id),
                         worker.id, settings.hr_table("hcmworkercertificateentity"),
                         f"worker {worker.number}: certificate {types[type_id].code!r}", {}, refs)


def _group(rows: Iterable[Any], key: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        out[key(row)].append(row)
    return out


def _cut(text: str) -> str:
    return text[:NAME_LENGTH]
