"""Execute a ``Plan`` against Dataverse and record what succeeded in the mapping state.

Tables go in dependency order (ratingmodel → ratingvalue → characteristic → bookableresource →
bookableresourcecharacteristic); within a table creates, then updates and deactivations (one
``UpdateMultiple``/``$batch`` stream), then deletes, each through ``writes.write_many`` (bulk where
the table supports it, ``$batch`` otherwise). A rejected row is reported with Dataverse's status,
code and message and does not stop other rows or chunks. A row that refers to a create of this run
that failed is not sent and is reported as held back. The mapping state of a table is saved right
after its writes, for the rows Dataverse accepted only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..dataverse import DataverseClient
from ..dataverse.writes import BulkSupport, RowResult, RowWrite, WriteStats, write_many
from ..vocabulary import PlanKind, WriteOp
from .plan import Operation, Plan
from .rules import TARGETS
from .settings import MappingSettings
from .state import MappedRow, MappingState

# Plan operation kinds -> the write_many operation that carries them, in the order they run.
_STREAMS = ((WriteOp.CREATE, (PlanKind.CREATE,)), (WriteOp.UPDATE, (PlanKind.UPDATE, PlanKind.DEACTIVATE)),
            (WriteOp.DELETE, (PlanKind.DELETE,)))


@dataclass(frozen=True)
class RowError:
    table: str
    key: str
    label: str
    op: str
    dataverse_id: str
    status: int | None
    code: str | None
    message: str
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ApplyResult:
    done: dict[str, dict[str, int]] = field(default_factory=lambda: {
        t.logical_name: dict.fromkeys(map(str, PlanKind), 0) for t in TARGETS})
    errors: list[RowError] = field(default_factory=list)


def apply_plan(client: DataverseClient, plan: Plan, state: MappingState, settings: MappingSettings, *,
               stats: WriteStats, support: BulkSupport | None = None) -> ApplyResult:
    result = ApplyResult()
    failed: set[tuple[str, str]] = set()  # creates of this run that Dataverse rejected
    for target in TARGETS:
        table = target.logical_name
        ops = plan.for_table(table)
        written: list[MappedRow] = []
        removed: list[tuple[str, str]] = []
        for op in ops:
            if op.kind is PlanKind.ADOPT and op.after is not None:
                written.append(op.after)
                result.done[table][PlanKind.ADOPT] += 1
        for write_op, kinds in _STREAMS:
            ready: list[Operation] = []
            for op in (o for o in ops if o.kind in kinds):
                blocker = next((n for n in op.needs if n in failed), None)
                if blocker is None:
                    ready.append(op)
                    continue
                result.errors.append(RowError(table, op.key, op.label, str(op.kind), op.dataverse_id, None, None,
                                              f"not sent: the {blocker[0]} row it refers to ('{blocker[1]}') "
                                              "could not be created in this run"))
                if op.kind is PlanKind.CREATE:
                    failed.add((table, op.key))
            if not ready:
                continue
            rows = [RowWrite(op.key, op.dataverse_id, op.body) for op in ready]
            outcomes = write_many(client, target, write_op, rows, options=settings.write_options(), stats=stats,
                                  support=support)
            for op, outcome in zip(ready, outcomes, strict=True):
                if not outcome.ok:
                    result.errors.append(_error(table, op, outcome))
                    if op.kind is PlanKind.CREATE:
                        failed.add((table, op.key))
                    continue
                result.done[table][op.kind] += 1
                if op.after is None:
                    removed.append((table, op.key))
                else:
                    written.append(op.after)
        state.save(written, removed)
    return result


def _error(table: str, op: Operation, outcome: RowResult) -> RowError:
    return RowError(table, op.key, op.label, str(op.kind), op.dataverse_id, outcome.status, outcome.code,
                    outcome.message or "rejected without a message", outcome.request_id)
