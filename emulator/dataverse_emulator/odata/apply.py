"""``$apply``: the aggregation subset Dataverse documents — ``groupby((a,b))``, ``groupby((a),aggregate(…))``,
``aggregate(…)`` and a leading ``filter(…)``, chained with ``/``. Aggregate methods ``sum``, ``min``,
``max``, ``average``, ``countdistinct`` (``<prop> with <method> as <alias>``) and ``$count as <alias>``.
[PA-QOV] "Aggregate and group results"

Aggregates read at most ``limit`` source rows (Dataverse: 50,000); more is refused with
``AggregateQueryRecordLimit`` (0x8004E023). Anything else (``compute``, ``top``, ``expand``…) is refused.
Evaluation follows SQL Server: nulls are skipped by every method, ``sum``/``min``/``max``/``average`` of no
values is null, ``$count`` counts rows. Groups come back ordered by their key values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ODataError, unknown_property
from .filter import Expr, FilterSettings, Resolver, parse_filter
from .options import sort_key

AGGREGATE_LIMIT_CODE = "0x8004E023"
AGGREGATE_LIMIT_MESSAGE = "AggregateQueryRecordLimit exceeded. Cannot perform this operation."
METHODS = ("sum", "min", "max", "average", "countdistinct")
_ITEM = re.compile(r"^\s*(\S+)\s+with\s+(\S+)\s+as\s+([A-Za-z_]\w*)\s*$")
_COUNT = re.compile(r"^\s*\$count\s+as\s+([A-Za-z_]\w*)\s*$")
_CALL = re.compile(r"^\s*([A-Za-z]+)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class Aggregate:
    alias: str
    method: str  # one of METHODS, or "$count"
    key: str | None = None  # row key the method reads (None for $count)


@dataclass
class ApplyPlan:
    filter: Expr | None = None
    group_wire: list[str] = field(default_factory=list)  # wire names in the output
    group_keys: list[str] = field(default_factory=list)  # row keys behind them
    aggregates: list[Aggregate] = field(default_factory=list)

    @property
    def output_names(self) -> list[str]:
        return [*self.group_wire, *(a.alias for a in self.aggregates)]


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _syntax(text: str) -> ODataError:
    return ODataError(f"Syntax error in $apply at '{text}'.")


def parse_apply(text: str, resolver: Resolver, aliases: Mapping[str, str] | None = None,
                settings: FilterSettings = FilterSettings()) -> ApplyPlan:
    """Parse ``$apply``; raises ODataError (400, 0x80060888) for what Dataverse or the emulator refuses."""
    plan = ApplyPlan()
    steps = _split_top(text, "/")
    for index, step in enumerate(steps):
        m = _CALL.match(step)
        if m is None:
            raise _syntax(step)
        name, args = m.group(1), m.group(2)
        if name == "filter":
            if index != 0 or plan.filter is not None:
                raise ODataError("The emulator supports filter() only as the first $apply transformation.")
            plan.filter = parse_filter(args, resolver, aliases, settings)
        elif name == "groupby":
            if plan.group_wire or plan.aggregates:
                raise ODataError("Only one groupby or aggregate transformation is supported in $apply.")
            _parse_groupby(args, resolver, plan)
        elif name == "aggregate":
            if plan.group_wire or plan.aggregates:
                raise ODataError("Only one groupby or aggregate transformation is supported in $apply.")
            plan.aggregates = _parse_aggregates(args, resolver)
        else:
            raise ODataError(f"The $apply transformation '{name}' is not supported.")
    if not plan.group_wire and not plan.aggregates:
        raise ODataError("$apply needs a groupby or aggregate transformation.")
    return plan


def _parse_groupby(args: str, resolver: Resolver, plan: ApplyPlan) -> None:
    parts = _split_top(args, ",")
    head = parts[0].strip()
    if not (head.startswith("(") and head.endswith(")")):
        raise _syntax(args)
    for name in (n.strip() for n in head[1:-1].split(",")):
        column = resolver.resolve(name)
        if column is None:
            raise unknown_property(name, resolver.entity)
        plan.group_wire.append(name)
        plan.group_keys.append(column.key)
    if len(parts) > 2:
        raise _syntax(args)
    if len(parts) == 2:
        m = _CALL.match(parts[1])
        if m is None or m.group(1) != "aggregate":
            raise ODataError(f"The groupby transformation in $apply supports only a nested aggregate, got '{parts[1]}'.")
        plan.aggregates = _parse_aggregates(m.group(2), resolver)


def _parse_aggregates(args: str, resolver: Resolver) -> list[Aggregate]:
    out: list[Aggregate] = []
    for item in _split_top(args, ","):
        if (m := _COUNT.match(item)) is not None:
            out.append(Aggregate(m.group(1), "$count"))
            continue
        m = _ITEM.match(item)
        if m is None:
            raise _syntax(item)
        name, method, alias = m.groups()
        if method not in METHODS:
            raise ODataError(f"Invalid aggregation method '{method}'; use one of {', '.join(METHODS)} or $count.")
        column = resolver.resolve(name)
        if column is None:
            raise unknown_property(name, resolver.entity)
        out.append(Aggregate(alias, method, column.key))
    if len({a.alias for a in out}) != len(out):
        raise ODataError("Each aggregate alias in $apply must be unique.")
    return out


def check_limit(rows: int, limit: int) -> None:
    """Dataverse evaluates at most ``limit`` (50,000) records in an aggregate query."""
    if limit and rows > limit:
        raise ODataError(AGGREGATE_LIMIT_MESSAGE, code=AGGREGATE_LIMIT_CODE)


def evaluate(plan: ApplyPlan, rows: Iterable[Mapping[str, Any]],
             wire_value: Callable[[str, Any], Any] = lambda key, value: value) -> list[dict[str, Any]]:
    """Grouped and aggregated rows, keyed by output name (wire names and aliases). ``wire_value`` turns a
    stored value of row key ``key`` into its JSON form."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in plan.group_keys), []).append(row)
    if not plan.group_keys and not groups:
        groups[()] = []  # aggregate() over no rows still answers one row
    out = []
    for values in sorted(groups, key=lambda vs: tuple(sort_key(v) for v in vs)):
        members = groups[values]
        item = {wire: wire_value(key, v) for wire, key, v in zip(plan.group_wire, plan.group_keys, values, strict=True)}
        for agg in plan.aggregates:
            item[agg.alias] = _aggregate(agg, members, wire_value)
        out.append(item)
    return out


def _aggregate(agg: Aggregate, rows: list[Mapping[str, Any]], wire_value: Callable[[str, Any], Any]) -> Any:
    if agg.method == "$count":
        return len(rows)
    assert agg.key is not None
    values = [r.get(agg.key) for r in rows if r.get(agg.key) is not None]
    if agg.method == "countcolumn":  # FetchXML's countcolumn: rows where the column is not null
        return len(values)
    if agg.method == "countdistinct":
        return len({str(v).lower() if isinstance(v, str) else v for v in values})
    if not values:
        return None
    if agg.method == "sum":
        return sum(values)
    if agg.method == "average":
        return sum(values) / len(values)
    pick = min if agg.method == "min" else max
    return wire_value(agg.key, pick(values, key=sort_key))
