"""Diff the desired URS rows against the mapping state: the ``Plan`` of writes a run makes.

Per table, in dependency order (ratingmodel → ratingvalue → characteristic → bookableresource →
bookableresourcecharacteristic):

* a desired row without mapping state is first looked up in Dataverse (``ExistingLookup``): a
  match is **adopted** (no write; e.g. a resource already linked to the worker, a characteristic
  of the same name and type) and then diffed like a mapped row; otherwise it is **created** under
  a GUID derived from table and HR key, so repeating a create (after a lost answer or a crash
  before the state was saved) upserts the same row instead of duplicating it;
* a mapped row whose content hash differs is **updated** (reactivated too if the mapping had
  deactivated it);
* a mapped row in scope that is no longer desired is **deleted** (resource characteristics: a
  skill removed in HR, an expired certificate) or **deactivated** (statecode 1 / statuscode 2:
  everything else — resources of terminated or deleted workers, catalogue rows removed in HR).
  Nothing but resource characteristics is ever deleted.

A row referring to a row that has no Dataverse id (not mapped, not planned) is reported as a
problem and left alone; one referring to a resource the settings do not let the mapping create is
skipped. ``Operation.needs`` lists the creates of this plan it refers to, so ``apply.py`` can hold
it back when one of them fails.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..vocabulary import PlanKind
from .rules import (
    RESOURCE,
    RESOURCE_CHARACTERISTIC,
    TARGET_BY_NAME,
    TARGETS,
    DesiredRow,
    DesiredState,
    Problem,
)
from .settings import MappingSettings
from .state import MappedRow, MappingState

ACTIVE = {"statecode": 0, "statuscode": 1}
INACTIVE = {"statecode": 1, "statuscode": 2}
# Namespace of the GUIDs the mapping gives the rows it creates (uuid5 of "<table>/<HR key>").
ID_NAMESPACE = uuid.UUID("3b0f6f0e-5c1a-4e38-9a59-5f3d1f7a2c41")


def new_id(table: str, key: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{table}/{key}"))


def bind_path(table: str, dataverse_id: str) -> str:
    """The ``@odata.bind`` value for a row of a URS table."""
    return f"/{TARGET_BY_NAME[table].entity_set}({dataverse_id})"


def content_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Candidate:
    """A desired row with no mapping state, as the existing-row lookup sees it."""

    row: DesiredRow
    body: dict[str, Any]  # fields and resolved binds
    refs: dict[str, tuple[str, str]]  # navigation property -> (Dataverse id, origin)
    needs: tuple[tuple[str, str], ...] = ()  # creates of this plan it refers to


@dataclass(frozen=True)
class ExistingRow:
    """A row found in Dataverse; ``body`` has the shape the mapping writes (fields and binds)."""

    dataverse_id: str
    body: dict[str, Any]
    active: bool


ExistingLookup = Callable[[str, list[Candidate]], dict[str, ExistingRow]]


@dataclass(frozen=True)
class Operation:
    kind: PlanKind
    table: str
    key: str
    dataverse_id: str
    body: dict[str, Any] | None  # what is sent (None: adopt, delete)
    after: MappedRow | None  # mapping state once Dataverse accepted it (None: delete)
    label: str
    needs: tuple[tuple[str, str], ...] = ()

    def sample(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "dataverse_id": self.dataverse_id, "body": self.body}


@dataclass
class Plan:
    operations: list[Operation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0  # rows left out on purpose (no resource and create_missing_resources off)

    def for_table(self, table: str) -> list[Operation]:
        return [op for op in self.operations if op.table == table]

    @property
    def writes(self) -> int:
        return sum(1 for op in self.operations if op.kind is not PlanKind.ADOPT)

    def counts(self) -> dict[str, dict[str, int]]:
        out = {t.logical_name: dict.fromkeys(map(str, PlanKind), 0) for t in TARGETS}
        for op in self.operations:
            out[op.table][op.kind] += 1
        return out

    def summary(self, sample_rows: int, max_problems: int) -> PlanSummary:
        """Counts per table and operation, the first rows of each, the first problems."""
        samples: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for op in self.operations:
            shown = samples.setdefault(op.table, {}).setdefault(str(op.kind), [])
            if len(shown) < sample_rows:
                shown.append(op.sample())
        return PlanSummary(self.counts(), samples, self.writes, self.skipped,
                           [p.to_dict() for p in self.problems[:max_problems]], len(self.problems))


@dataclass(frozen=True)
class PlanSummary:
    """What a run planned, for its result and the logs (no plan rows beyond the first ``samples``).

    ``to_dict()`` is the JSON shape of ``MappingResult.to_dict()["plan"]``; ``from_dict`` reads it back.
    """

    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> plan kind -> operations
    samples: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)  # the first rows of each
    writes: int = 0  # operations that write (all but adopt)
    skipped: int = 0  # rows left out on purpose
    problems: list[dict[str, Any]] = field(default_factory=list)  # the first problems
    problems_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanSummary:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def build_plan(desired: DesiredState, state: MappingState, settings: MappingSettings, lookup: ExistingLookup,
               run_id: str) -> Plan:
    plan = Plan(problems=list(desired.problems))
    resolved: dict[tuple[str, str], tuple[str, str]] = {}  # (table, key) -> (Dataverse id, origin)
    created: set[tuple[str, str]] = set()
    left_out: set[tuple[str, str]] = set()  # not created on purpose: dependants are skipped, not errors
    for target in TARGETS:
        table = target.logical_name
        scope = desired.scopes[table]
        links = table == RESOURCE_CHARACTERISTIC.logical_name
        mapped = state.rows(table, scope if links else None)
        resolved.update({(table, k): (m.dataverse_id, m.origin) for k, m in mapped.items()})
        in_scope = {k: m for k, m in mapped.items() if scope is None or m.scope in scope}
        held_back: set[str] = set()
        candidates: list[Candidate] = []
        for row in desired.rows[table].values():
            refs, needs, missing = _resolve(row, resolved, created)
            if missing is not None:
                held_back.add(row.key)
                if missing in left_out:
                    plan.skipped += 1
                else:
                    plan.problems.append(Problem(table, row.key, row.label,
                                                 f"refers to {missing[0]} '{missing[1]}', which is not mapped"))
                continue
            body = {**row.fields, **{f"{nav}@odata.bind": bind_path(row.refs[nav].table, ref_id)
                                     for nav, (ref_id, _) in refs.items()}}
            current = mapped.get(row.key)
            if current is None:
                candidates.append(Candidate(row, body, refs, needs))
                continue
            _diff(plan, row, body, current, needs, run_id)
        existing = lookup(table, candidates) if candidates else {}
        for cand in candidates:
            row, needs = cand.row, cand.needs
            found = existing.get(row.key)
            if found is not None:
                adopted = _state(row, found.dataverse_id, content_hash(found.body), found.active, "adopted", run_id)
                plan.operations.append(Operation(PlanKind.ADOPT, table, row.key, found.dataverse_id, None, adopted, row.label))
                resolved[(table, row.key)] = (found.dataverse_id, "adopted")
                _diff(plan, row, cand.body, adopted, needs, run_id)
                continue
            if table == RESOURCE.logical_name and not settings.create_missing_resources:
                left_out.add((table, row.key))
                plan.skipped += 1
                continue
            row_id = new_id(table, row.key)
            after = _state(row, row_id, content_hash(cand.body), True, "created", run_id)
            plan.operations.append(Operation(PlanKind.CREATE, table, row.key, row_id, {**cand.body, **row.create_only},
                                             after, row.label, needs))
            resolved[(table, row.key)] = (row_id, "created")
            created.add((table, row.key))
        for key, current in in_scope.items():
            if key in desired.rows[table] or key in held_back:
                continue
            if links:
                plan.operations.append(Operation(PlanKind.DELETE, table, key, current.dataverse_id, None, None,
                                                 current.label))
            elif current.active:
                plan.operations.append(Operation(PlanKind.DEACTIVATE, table, key, current.dataverse_id, dict(INACTIVE),
                                                 replace(current, active=False, run_id=run_id), current.label))
    return plan


def _resolve(row: DesiredRow, resolved: dict[tuple[str, str], tuple[str, str]], created: set[tuple[str, str]]
             ) -> tuple[dict[str, tuple[str, str]], tuple[tuple[str, str], ...], tuple[str, str] | None]:
    """(nav -> (id, origin), creates of this plan referred to, the first reference without an id)."""
    refs: dict[str, tuple[str, str]] = {}
    for nav, ref in row.refs.items():
        found = resolved.get((ref.table, ref.key))
        if found is None:
            return {}, (), (ref.table, ref.key)
        refs[nav] = found
    needs = tuple((ref.table, ref.key) for ref in row.refs.values() if (ref.table, ref.key) in created)
    return refs, needs, None


def _diff(plan: Plan, row: DesiredRow, body: dict[str, Any], current: MappedRow,
          needs: tuple[tuple[str, str], ...], run_id: str) -> None:
    digest = content_hash(body)
    if digest == current.content_hash and current.active:
        return
    sent = dict(body) if digest != current.content_hash else {}
    if not current.active:
        sent.update(ACTIVE)
    after = _state(row, current.dataverse_id, digest, True, current.origin, run_id)
    plan.operations.append(Operation(PlanKind.UPDATE, row.table, row.key, current.dataverse_id, sent, after, row.label,
                                     needs))


def _state(row: DesiredRow, dataverse_id: str, digest: str, active: bool, origin: str, run_id: str) -> MappedRow:
    return MappedRow(row.table, row.key, row.scope, row.source, row.label, dataverse_id, digest, active, origin,
                     run_id)

