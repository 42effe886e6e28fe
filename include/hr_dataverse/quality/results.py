"""Results of a data-quality run as plain data (no GX objects): one ``CheckResult`` per expectation,
grouped per table by ``QualityRun``; ``summary()`` is the small dict an Airflow task returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..vocabulary import QualityStatus, Severity


@dataclass(frozen=True)
class CheckResult:
    """What one expectation found. ``unexpected_count`` is the number of offending rows (for
    completeness: rows missing or extra against the source count); ``sample`` a few of them."""

    id: str
    table: str
    kind: str
    column: str | None
    severity: str
    description: str
    success: bool
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed: Any = None
    expected: Any = None
    sample: list[Any] = field(default_factory=list)
    message: str = ""
    cause: str | None = None
    error: str | None = None  # the expectation could not be evaluated (GX raised)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TableSummary:
    table: str
    evaluated: int
    passed: int
    errors: int  # failed checks of severity error
    warnings: int  # failed checks of severity warning
    unexpected: int  # offending rows over the failed checks

    @property
    def failed(self) -> int:
        return self.errors + self.warnings

    @property
    def status(self) -> QualityStatus:
        return QualityStatus.FAILED if self.errors else QualityStatus.WARNINGS if self.warnings else QualityStatus.PASSED

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed, "status": self.status.value}


@dataclass
class QualityRun:
    run_id: str
    started_at: str
    finished_at: str
    warehouse: str  # URL without password
    checks: list[CheckResult]
    notes: list[str] = field(default_factory=list)
    data_docs: str | None = None  # Data Docs index, relative to the quality root
    # asset (table) -> check group ("columns"/"queries") -> its Data Docs page, relative to the root
    validation_pages: dict[str, dict[str, str]] = field(default_factory=dict)
    gx_version: str = ""
    loads: dict[str, Any] | None = None  # LoadOutcome.to_dict() of the pipeline run, when it had loads

    @property
    def stale_tables(self) -> list[str]:
        return list((self.loads or {}).get("stale") or [])

    @property
    def has_errors(self) -> bool:
        return any(not c.success and c.severity == Severity.ERROR for c in self.checks)

    @property
    def has_warnings(self) -> bool:
        return any(not c.success and c.severity == Severity.WARNING for c in self.checks)

    @property
    def status(self) -> QualityStatus:
        if self.stale_tables:  # whatever the checks say, they describe stale data
            return QualityStatus.LOADS_FAILED
        return (QualityStatus.FAILED if self.has_errors else QualityStatus.WARNINGS if self.has_warnings
                else QualityStatus.PASSED)

    def failures(self) -> list[CheckResult]:
        """Failed checks, errors first, then by table and id."""
        failed = [c for c in self.checks if not c.success]
        return sorted(failed, key=lambda c: (c.severity != Severity.ERROR, c.table, c.id))

    def tables(self) -> list[TableSummary]:
        order = list(dict.fromkeys(c.table for c in self.checks))
        return [_table_summary(t, [c for c in self.checks if c.table == t]) for t in order]

    def totals(self) -> dict[str, int]:
        failed = [c for c in self.checks if not c.success]
        return {"evaluated": len(self.checks), "passed": len(self.checks) - len(failed),
                "errors": sum(c.severity == Severity.ERROR for c in failed),
                "warnings": sum(c.severity == Severity.WARNING for c in failed),
                "unexpected": sum(c.unexpected_count or 0 for c in failed)}

    def summary(self, *, report_path: str | None = None, max_failures: int = 20) -> dict[str, Any]:
        """Small enough for XCom: totals, per-table counts, the first failures (without samples)."""
        failures = self.failures()
        return {
            "run_id": self.run_id, "status": self.status.value, "has_errors": self.has_errors,
            "stale_tables": self.stale_tables, "totals": self.totals(),
            "tables": {t.table: {k: v for k, v in t.to_dict().items() if k != "table"} for t in self.tables()},
            "failures": [{"id": c.id, "severity": c.severity, "table": c.table, "column": c.column,
                          "unexpected_count": c.unexpected_count, "message": c.message}
                         for c in failures[:max_failures]],
            "more_failures": max(0, len(failures) - max_failures),
            "report_path": report_path,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "started_at": self.started_at, "finished_at": self.finished_at,
            "warehouse": self.warehouse, "status": self.status.value, "has_errors": self.has_errors,
            "totals": self.totals(), "tables": [t.to_dict() for t in self.tables()],
            "checks": [c.to_dict() for c in self.checks], "notes": list(self.notes),
            "data_docs": self.data_docs, "validation_pages": {k: dict(v) for k, v in self.validation_pages.items()},
            "gx_version": self.gx_version, "loads": self.loads,
        }


def _table_summary(table: str, checks: Iterable[CheckResult]) -> TableSummary:
    checks = list(checks)
    failed = [c for c in checks if not c.success]
    return TableSummary(table=table, evaluated=len(checks), passed=len(checks) - len(failed),
                        errors=sum(c.severity == Severity.ERROR for c in failed),
                        warnings=sum(c.severity == Severity.WARNING for c in failed),
                        unexpected=sum(c.unexpected_count or 0 for c in failed))


def plain(value: Any) -> Any:
    """JSON-safe form of a value GX returns (datetimes, decimals, tuples, NaN)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
