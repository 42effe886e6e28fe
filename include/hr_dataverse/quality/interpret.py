"""Turn one GX expectation result (its ``success`` and ``result`` dict) into a ``CheckResult`` with
an offending-row count, a few sample rows or values, and a sentence naming table, column and count.
Plain dicts in, plain data out: testable without GX.
"""

from __future__ import annotations

from typing import Any

from .results import CheckResult, plain
from .rules import Check


def interpret(check: Check, *, success: bool, result: dict[str, Any], error: str | None, live_rows: int | None,
              sample_size: int) -> CheckResult:
    base = {"id": check.id, "table": check.table, "kind": check.kind, "column": check.column,
            "severity": check.severity, "description": check.description, "cause": check.cause}
    if error is not None:
        return CheckResult(**base, success=False, error=error,
                           message=f"{_where(check)}: the check could not be evaluated ({error})")
    count, percent, observed, expected, sample = _figures(check, result, live_rows, sample_size)
    if check.kind == "has_values":  # one check per table; its unexpected rows name the empty columns
        empty = [str(r.get("column_name")) for r in (result.get("details") or {}).get("unexpected_rows") or []]
        base["column"] = ", ".join(empty) or None
        count, sample = (live_rows if empty else 0), empty
    message = "" if success else _message(check, base["column"], count, percent, observed, expected, live_rows)
    cause = check.cause if (not success and _everywhere(check, percent)) else None
    return CheckResult(**{**base, "cause": cause}, success=success, unexpected_count=count,
                       unexpected_percent=None if percent is None else round(float(percent), 2),
                       observed=plain(observed), expected=plain(expected), sample=plain(sample), message=message)


def _figures(check: Check, result: dict[str, Any], live_rows: int | None, n: int
             ) -> tuple[int | None, float | None, Any, Any, list[Any]]:
    """(offending rows, their percentage, observed value, expected value, sample)."""
    kind, kwargs = check.expectation, check.kwargs
    observed = result.get("observed_value")
    if kind == "UnexpectedRowsExpectation":
        rows = (result.get("details") or {}).get("unexpected_rows") or []
        return int(observed or 0), None, observed, 0, list(rows[:n])
    if kind in ("ExpectTableRowCountToEqual", "ExpectTableRowCountToBeBetween"):
        low = kwargs.get("value", kwargs.get("min_value"))
        high = kwargs.get("value", kwargs.get("max_value"))
        expected = low if low == high else [low, high]
        if observed is None:
            return None, None, None, expected, []
        off = low - observed if observed < low else observed - high if observed > high else 0
        return int(off), None, observed, expected, []
    # Column map expectations (SUMMARY): counts, plus rows identified by their keys where GX gives them.
    count = result.get("unexpected_count")
    percent = result.get("unexpected_percent")
    if kind in ("ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique", "ExpectColumnValuesToBeInSet"):
        sample = [{"value": c.get("value"), "rows": c.get("count")} for c in result.get("partial_unexpected_counts") or []]
    else:
        sample = list(result.get("partial_unexpected_index_list") or result.get("partial_unexpected_list") or [])
    expected = kwargs.get("value_set")
    return (None if count is None else int(count)), percent, None, expected, sample[:n]


def _everywhere(check: Check, percent: float | None) -> bool:
    """Whether a failure leaves a column null in every row (the field-security signature)."""
    return check.kind == "has_values" or (check.kind == "not_null" and percent is not None and float(percent) >= 100.0)


def _where(check: Check, column: str | None = None) -> str:
    column = column or check.column
    return f"{check.table}.{column}" if column else check.table


def _message(check: Check, column: str | None, count: int | None, percent: float | None, observed: Any,
             expected: Any, live_rows: int | None) -> str:
    where, n = _where(check, column), count if count is not None else "?"
    of = f" of {live_rows}" if live_rows is not None else ""
    if check.kind == "completeness":
        if observed is None:
            return f"{where}: the row count could not be taken"
        direction = "missing" if (observed < (expected[0] if isinstance(expected, list) else expected)) else "extra"
        return (f"{where}: {observed} live rows in the warehouse, the source counted {_expected_text(expected)} "
                f"at load time ({n} {direction})")
    if check.kind == "not_null":
        everywhere = percent is not None and float(percent) >= 100.0
        return f"{where}: required column null in {n}{of} rows" + (" (every row)" if everywhere else "")
    if check.kind == "has_values":
        return f"{where}: null in every row ({n} rows)"
    if check.kind == "unique":
        return f"{where}: {n} rows share a value that should be unique"
    if check.kind == "references":
        return f"{where}: {n} rows point at a {check.parent} row that is not in the warehouse"
    if check.kind == "option_domain":
        return f"{where}: {n} rows hold a value outside the option set"
    if check.kind == "dates":
        return f"{where}: {n} rows with an implausible date ({check.description})"
    if check.kind == "freshness":
        return f"{where}: {check.description.lower()} not met (no successful sync recent enough)"
    if check.kind == "mapping":
        return f"{where}: {n} mapped active workers lack their bookable resource or some characteristics"
    return f"{where}: {n} unexpected rows"


def _expected_text(expected: Any) -> str:
    return f"{expected[0]}-{expected[1]}" if isinstance(expected, list) else str(expected)
