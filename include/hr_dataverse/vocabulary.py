"""The pipeline's vocabulary: every sync mode, status and operation name, as ``StrEnum``s.

Guarantees: each member's value is the exact string stored in the warehouse (``_hr_sync_runs``,
``_hr_sync_state``, ``_hr_urs_mapping_runs``), sent through XCom and shown in the UI, so a member
compares and serialises equal to the old string and stored rows read back unchanged. Converting a
value (``SyncMode("sometimes")``) is the one validation: a value outside the vocabulary raises
``ValueError`` naming the allowed values. This module imports the standard library only, so the
Airflow edge (DAG files, trigger forms) may import it at parse time.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Vocabulary(StrEnum):
    """Base of the vocabularies: a value that is not a member raises a ``ValueError`` naming them."""

    @classmethod
    def _missing_(cls, value: object) -> Vocabulary:
        raise ValueError(f"unknown {cls.noun()} {value!r} (expected one of {cls.listing()})")

    @classmethod
    def noun(cls) -> str:
        """The class name in words (``SyncMode`` -> ``sync mode``), for messages."""
        return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()

    @classmethod
    def listing(cls) -> str:
        return ", ".join(cls)


class SyncMode(Vocabulary):
    """What a caller asks ``sync_table`` for."""

    AUTO = "auto"  # delta where a usable delta link is stored, else full
    FULL = "full"
    DELTA = "delta"  # falls back to full, with a warning, where it cannot


class LoadMode(Vocabulary):
    """What a load did (the warehouse's ``mode`` column of state and history)."""

    FULL = "full"  # change-tracking read of every row: delete reconciliation, new baseline link
    DELTA = "delta"  # the changes since the stored delta link
    FULL_EVERY_RUN = "full_every_run"  # no change tracking on the table: full read every run, no link

    @property
    def reads_everything(self) -> bool:
        return self is not LoadMode.DELTA


class RunStatus(Vocabulary):
    """Outcome of one table load (``TableSyncResult.status``, the run-history ``status``), and of a
    run (its worst table)."""

    SUCCESS = "success"
    WARNING = "warning"  # loaded, with something to look at (``warnings``; ``deletes_held`` when set)
    FAILED = "failed"
    SKIPPED = "skipped"  # another process was loading the table (its load lock); nothing loaded

    @property
    def landed(self) -> bool:
        """The load committed its rows."""
        return self in (RunStatus.SUCCESS, RunStatus.WARNING)


class MappingStatus(Vocabulary):
    """Outcome of one URS mapping run (``_hr_urs_mapping_runs.status``)."""

    SUCCESS = "success"  # the next incremental run starts from its watermark
    PARTIAL = "partial"  # rows were rejected: the watermark does not move
    DRY_RUN = "dry_run"
    DISABLED = "disabled"


class WriteOp(Vocabulary):
    """A Dataverse write of many rows (``write_many``)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class PlanKind(Vocabulary):
    """An operation of the URS mapping plan."""

    CREATE = "create"
    UPDATE = "update"
    DEACTIVATE = "deactivate"
    DELETE = "delete"
    ADOPT = "adopt"  # an existing Dataverse row taken into the mapping: no write


class CheckStatus(Vocabulary):
    """Outcome of one pre-flight check entry, in rising severity (``checks/report.py``)."""

    OK = "ok"
    WARNING = "warning"  # the pipeline runs, with something to fix
    BLOCKER = "blocker"  # the pipeline cannot run until it is fixed


class Severity(Vocabulary):
    """Severity of a data-quality check (``quality/severity.py``)."""

    ERROR = "error"  # a failed check fails the DAG run (after the report is written)
    WARNING = "warning"  # reported only
    OFF = "off"  # the check is dropped


class QualityStatus(Vocabulary):
    """Outcome of a data-quality run, or of one table in it (``quality/results.py``)."""

    PASSED = "passed"
    WARNINGS = "warnings"
    FAILED = "failed"
    LOADS_FAILED = "loads_failed"  # the run's loads failed or loaded nothing: the checks saw stale tables


class ProbeOutcome(Vocabulary):
    """Outcome of one change probe of a stored delta link (``sync/change_probe.py``)."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    EXPIRED = "expired"  # the link is refused: the sync must run (a full resync)
    THROTTLED = "throttled"
    FAILED = "failed"
