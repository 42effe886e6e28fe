"""``$filter``: parse once, type-check against the table, compile to Python closures.

Grammar (the subset Dataverse supports that the emulator needs): ``eq ne gt ge lt le``, ``and or
not``, parentheses, ``contains/startswith/endswith(prop,'x')``; literals: ``'str'`` (``''`` escapes
a quote), integers, decimals, ``true false null``, unquoted GUIDs, unquoted ISO 8601 dates and
datetimes, enum literals ``Microsoft.Dynamics.CRM.Type'Member'`` and parameter aliases ``@p1``.
[PA-FILTER][PA-QOV]

Error texts and positions follow ODataLib (which Dataverse runs), e.g. an unterminated literal is
reported at the *end* of the text: ``lastname eq 'O'Bryan'`` -> ``position 21``, exactly the
documented message. Precedence is ODataLib's too: ``not`` binds tighter than ``eq``, so
``not name eq 'x'`` is a type error; write ``not (name eq 'x')``.

Evaluation follows SQL Server: strings compare case-insensitively; ``eq null``/``ne null`` test
for null; any other comparison with null is false; ``lt le gt ge`` order GUIDs as SQL Server's
``uniqueidentifier`` does (last group most significant, see ``guid_order.py``), the order the
store pages in, so key-range filters partition a table exactly.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from ..guid_order import sql_guid_key
from .errors import ODataError, unknown_property

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]


# --- column resolution ---------------------------------------------------------------------------


class Column(NamedTuple):
    """What a property name in a query means: the row key and its Dataverse AttributeType.

    ``key`` may be a ``/`` path (``IsCustomizable/Value``) for nested dict rows (metadata).
    ``attribute_type`` is a Dataverse AttributeType, ``Enum`` (metadata enum members held as
    strings) or ``Any`` (untyped; compared by Python value).
    """

    key: str
    attribute_type: str
    date_only: bool = False


class Navigation(NamedTuple):
    """A single-valued navigation property and the lookup behind it (for ``$expand``)."""

    nav_property: str
    lookup: str  # logical name of the lookup column holding the target id
    target: str  # target table logical name
    resolver: Resolver | None  # None when the emulator does not hold the target table


class Resolver(Protocol):
    """Maps wire property names to row keys. ``entity`` names the type in error messages."""

    entity: str

    def resolve(self, wire_name: str) -> Column | None: ...


class CollectionNavigation(NamedTuple):
    """A collection-valued navigation property: rows of ``source`` whose lookup ``lookup`` points here."""

    nav_property: str
    source: str  # referencing table logical name
    lookup: str  # its lookup column (logical name)
    resolver: Resolver


def collection_navigation_name(referenced: str, referencing: str, lookup: str) -> str:
    """UNCONFIRMED naming of the one-to-many navigation property (Dataverse names it after the
    relationship's schema name, which is org-specific): ``<referenced>_<referencing>_<lookup>``."""
    return f"{referenced}_{referencing}_{lookup}"


# (table, lookup column, value) -> rows, from the store (lambda operators read related rows).
RowFinder = Callable[[str, str, Any], list[Mapping[str, Any]]]


class TableResolver:
    """Adapter for ``schema.TableDef``: lookups only as ``_x_value``, names case-sensitive.

    ``tables`` (logical name -> TableDef) lets ``$expand`` resolve the target's columns; ``find``
    (the store's indexed lookup) lets ``any``/``all`` read the rows of a collection navigation.
    """

    def __init__(self, table: Any, tables: Mapping[str, Any] | None = None, find: RowFinder | None = None) -> None:
        self.table = table
        self.tables = tables or {}
        self.find = find
        self.entity: str = table.logical_name

    def collection_navigation(self, nav_property: str) -> CollectionNavigation | None:
        for source in self.tables.values():
            for attr in source.lookups():
                if attr.targets and attr.targets[0] == self.table.logical_name and nav_property == \
                        collection_navigation_name(self.table.logical_name, source.logical_name, attr.logical_name):
                    return CollectionNavigation(nav_property, source.logical_name, attr.logical_name,
                                                TableResolver(source, self.tables, self.find))
        return None

    def resolve(self, wire_name: str) -> Column | None:
        attr = self.table.attribute_for_wire(wire_name)
        if attr is None or self.table.wire_name(attr) != wire_name:
            return None
        return Column(attr.logical_name, attr.attribute_type, bool(getattr(attr, "date_only", False)))

    def navigation(self, nav_property: str) -> Navigation | None:
        attr = self.table.attribute_for_navigation(nav_property)
        if attr is None or not attr.targets:
            return None
        target = attr.targets[0]
        target_table = self.tables.get(target)
        resolver = TableResolver(target_table, self.tables) if target_table is not None else None
        return Navigation(nav_property, attr.logical_name, target, resolver)


class DictResolver:
    """Resolver over plain dict rows (metadata ``EntityDefinitions``): names map to themselves."""

    def __init__(self, columns: Mapping[str, str], entity: str) -> None:
        self.columns = dict(columns)  # property name (or a/b path) -> attribute type
        self.entity = entity

    def resolve(self, wire_name: str) -> Column | None:
        attribute_type = self.columns.get(wire_name)
        return None if attribute_type is None else Column(wire_name, attribute_type)


class _LambdaResolver:
    """Inside ``any``/``all``: ``<variable>/<column>`` names a column of the related table."""

    def __init__(self, variable: str, target: Resolver) -> None:
        self.variable = variable
        self.target = target
        self.entity = target.entity

    def resolve(self, wire_name: str) -> Column | None:
        head, sep, rest = wire_name.partition("/")
        if not sep or head != self.variable:
            return None
        return self.target.resolve(rest)


@dataclass(frozen=True)
class FilterSettings:
    """Filter behaviours that could not be verified against a real environment.

    accept_quoted_guid: a Microsoft example compares a lookup with a quoted GUID, so Dataverse
        seems lenient (UNCONFIRMED); unquoted GUIDs are always accepted.
    ne_matches_null: whether ``col ne 'x'`` matches rows where ``col`` is null. OData semantics
        say yes; SQL ``<>`` would say no. UNCONFIRMED for Dataverse; default follows OData.
    """

    accept_quoted_guid: bool = True
    ne_matches_null: bool = True
    # "Now" for date query functions (LastXDays); the emulator passes its movable clock.
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


# --- lexer ---------------------------------------------------------------------------------------

_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w-])")
_DATETIME = re.compile(
    r"-?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?(?![\w:.])"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w:.-])")
_IDENT = re.compile(r"[A-Za-z_$][\w]*(?:[./][A-Za-z_$][\w]*)*")
_GUID_TEXT = re.compile(r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$")

_KEYWORD_LITERALS = {"true": True, "false": False, "null": None}


class _Tok(NamedTuple):
    kind: str  # ident, lit, alias, (, ), ",", end
    text: str
    pos: int
    end: int
    value: Any = None  # for lit: _Lit


def _unrecognized(edm: str, literal: str, pos: int, text: str) -> ODataError:
    return ODataError(f"Unrecognized '{edm}' literal '{literal}' at '{pos}' in '{text}'.")


def _scan_quoted(text: str, start: int, prefixed: bool) -> tuple[str, int]:
    """Read a quoted value starting at the quote; returns (value with '' unescaped, end index)."""
    i = start + 1
    n = len(text)
    while True:
        j = text.find("'", i)
        if j < 0:
            kind = "literal" if prefixed else "string literal"
            raise ODataError(f"There is an unterminated {kind} at position {n} in '{text}'.")
        if j + 1 < n and text[j + 1] == "'":
            i = j + 2
            continue
        return text[start + 1 : j].replace("''", "'"), j + 1


def _required_digits(text: str, i: int) -> int:
    """The index past the digits starting at ``i``; at least one digit must be there."""
    if i >= len(text) or not text[i].isdigit():
        raise ODataError(f"A digit was expected at position {i} in '{text}'.")
    while i < len(text) and text[i].isdigit():
        i += 1
    return i


def _scan_number(text: str, i: int) -> tuple[_Lit, int]:
    n = len(text)
    start = i
    if text[i] == "-":
        i += 1
    while i < n and text[i].isdigit():
        i += 1
    is_int = True
    if i < n and text[i] == ".":
        i = _required_digits(text, i + 1)
        is_int = False
    if i < n and text[i] in "eE":
        i += 1
        if i < n and text[i] in "+-":
            i += 1
        i = _required_digits(text, i)
        is_int = False
    body = text[start:i]
    suffix = text[i].lower() if i < n and text[i] in "mMdDfFlL" else ""
    if suffix:
        i += 1
    if is_int and suffix in ("", "l"):
        value: Any = int(body)
        edm = "Edm.Int32" if -(2**31) <= value < 2**31 and not suffix else "Edm.Int64"
    else:
        value = float(body)
        edm = {"d": "Edm.Double", "f": "Edm.Single"}.get(suffix, "Edm.Decimal")
    return _Lit("num", value, edm), i


def _datetime_literal(m: re.Match[str], text: str, pos: int) -> _Lit:
    raw = m.group(0)
    fraction = m.group(1)
    iso = raw.replace(f".{fraction}", f".{fraction[:6].ljust(6, '0')}") if fraction else raw
    try:
        value = datetime.fromisoformat(iso)
    except ValueError:
        raise _unrecognized("Edm.DateTimeOffset", raw, pos, text) from None
    if value.tzinfo is None:  # lenient: no offset means UTC (Dataverse stores UTC)
        value = value.replace(tzinfo=UTC)
    return _Lit("dt", value, "Edm.DateTimeOffset")


CRM_NAMESPACE = "Microsoft.Dynamics.CRM."


def _nesting(text: str, start: int = 0) -> Iterator[tuple[int, str, int, bool]]:
    """``(index, char, depth after it, inside quotes)`` for each character from ``start``: one scanner
    for the function-argument helpers (quotes and brackets respected)."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        yield i, ch, depth, bool(quote) or ch in "'\""


def _matching_paren(text: str, start: int) -> int:
    """Index of the ``)`` closing the ``(`` at ``start`` (quotes and brackets respected)."""
    for i, ch, depth, quoted in _nesting(text, start):
        if ch in ")]" and not quoted and depth == 0:
            return i
    raise ODataError(f"')' expected at position {len(text)} in '{text}'.")


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    n = len(text)
    i = 0
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            toks.append(_Tok("end", "", n, n))
            return toks
        ch = text[i]
        if ch in "(),:":
            toks.append(_Tok(ch, ch, i, i + 1))
            i += 1
        elif ch == "'":
            value, end = _scan_quoted(text, i, prefixed=False)
            toks.append(_Tok("lit", text[i:end], i, end, _Lit("str", value, "Edm.String")))
            i = end
        elif ch == "@":
            m = _IDENT.match(text, i + 1)
            if m is None or "." in m.group(0) or "/" in m.group(0):
                raise ODataError(f"Syntax error at position {i + 1} in '{text}'.")
            toks.append(_Tok("alias", text[i : m.end()], i, m.end()))
            i = m.end()
        elif (m := _GUID.match(text, i)) is not None:
            toks.append(_Tok("lit", m.group(0), i, m.end(), _Lit("guid", m.group(0).lower(), "Edm.Guid")))
            i = m.end()
        elif ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
            if (m := _DATETIME.match(text, i)) is not None:
                toks.append(_Tok("lit", m.group(0), i, m.end(), _datetime_literal(m, text, i)))
                i = m.end()
            elif (m := _DATE.match(text, i)) is not None:
                try:
                    lit = _Lit("date", date.fromisoformat(m.group(0)), "Edm.Date")
                except ValueError:
                    raise _unrecognized("Edm.Date", m.group(0), i, text) from None
                toks.append(_Tok("lit", m.group(0), i, m.end(), lit))
                i = m.end()
            else:
                lit, end = _scan_number(text, i)
                toks.append(_Tok("lit", text[i:end], i, end, lit))
                i = end
        elif (m := _IDENT.match(text, i)) is not None:
            name, end = m.group(0), m.end()
            if name.startswith(CRM_NAMESPACE) and end < n and text[end] == "(":
                close = _matching_paren(text, end)
                toks.append(_Tok("crmfn", name, i, close + 1, text[end + 1 : close]))
                i = close + 1
                continue
            if end < n and text[end] == "'":  # type-prefixed literal: enum or a v3 form like guid'..'
                value, qend = _scan_quoted(text, end, prefixed=True)
                if "." not in name:
                    raise _unrecognized("Edm.String", text[i:qend], i, text)
                toks.append(_Tok("lit", text[i:qend], i, qend, _Lit("enum", value, name)))
                i = qend
            elif name in _KEYWORD_LITERALS:
                value = _KEYWORD_LITERALS[name]
                kind = "null" if value is None else "bool"
                toks.append(_Tok("lit", name, i, end, _Lit(kind, value, "Edm.Boolean")))
                i = end
            else:
                toks.append(_Tok("ident", name, i, end))
                i = end
        else:
            raise ODataError(f"Syntax error: character '{ch}' is not valid at position {i} in '{text}'.")


# --- typed expression tree (built once, compiled once) ----------------------------------------

# Attribute types grouped by how values compare.
_KIND_BY_TYPE = {
    "String": "str", "Memo": "str", "EntityName": "str",
    "Integer": "num", "BigInt": "num", "Decimal": "num", "Double": "num", "Money": "num",
    "Picklist": "num", "State": "num", "Status": "num",
    "Boolean": "bool", "DateTime": "dt",
    "Lookup": "guid", "Customer": "guid", "Owner": "guid", "Uniqueidentifier": "guid",
    "Enum": "enum", "Any": "any",
}
_EDM_BY_TYPE = {
    "String": "Edm.String", "Memo": "Edm.String", "EntityName": "Edm.String",
    "Integer": "Edm.Int32", "Picklist": "Edm.Int32", "State": "Edm.Int32", "Status": "Edm.Int32",
    "BigInt": "Edm.Int64", "Decimal": "Edm.Decimal", "Money": "Edm.Decimal", "Double": "Edm.Double",
    "Boolean": "Edm.Boolean", "DateTime": "Edm.DateTimeOffset",
    "Lookup": "Edm.Guid", "Customer": "Edm.Guid", "Owner": "Edm.Guid", "Uniqueidentifier": "Edm.Guid",
}
_OPERATOR_KIND = {
    "eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
    "lt": "LessThan", "le": "LessThanOrEqual",
}
_SWAPPED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_ORDER_OPS = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
_ARITHMETIC = {"add", "sub", "mul", "div", "divby", "mod", "has", "in"}
_STRING_FUNCTIONS = {
    "contains": lambda v, s: s in v,
    "startswith": lambda v, s: v.startswith(s),
    "endswith": lambda v, s: v.endswith(s),
}
# Canonical OData functions Dataverse does not implement in $filter.
_UNSUPPORTED_FUNCTIONS = {
    "tolower", "toupper", "trim", "length", "indexof", "substring", "concat", "year", "month", "day",
    "hour", "minute", "second", "date", "time", "now", "round", "floor", "ceiling", "cast", "isof",
    "matchesPattern", "fractionalseconds", "totaloffsetminutes", "maxdatetime", "mindatetime",
}


class _Lit(NamedTuple):
    kind: str  # str num bool dt date guid enum null
    value: Any
    edm: str


class _Prop(NamedTuple):
    column: Column
    kind: str
    edm: str


class _Bool(NamedTuple):
    """A boolean-valued sub-expression (comparison, and/or/not, function call)."""

    fn: Predicate


_Node = _Lit | _Prop | _Bool


def _node_edm(node: _Node) -> str:
    return "Edm.Boolean" if isinstance(node, _Bool) else node.edm


def _node_kind(node: _Node) -> str:
    return "bool" if isinstance(node, _Bool) else node.kind


# --- value normalisation (row values are whatever the store holds) ---------------------------


def _to_datetime(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=UTC)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(str(v))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _to_date(v: Any) -> date | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return (v.astimezone(UTC) if v.tzinfo is not None else v).date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def _to_lower(v: Any) -> str | None:
    if v.__class__ is str:
        return v.lower()
    return None if v is None else str(v).lower()


def _any_value(v: Any) -> Any:
    return v.lower() if v.__class__ is str else v


_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "str": _to_lower, "guid": _to_lower, "dt": _to_datetime, "date": _to_date, "any": _any_value,
}


def _guid_order(v: Any) -> str | None:
    """SQL Server sort key of a (lower-cased) GUID; None for null or a non-GUID value (no match)."""
    if v is None:
        return None
    try:
        return sql_guid_key(v)
    except ValueError:
        return None


def _getter(column: Column, normalise: Callable[[Any], Any] | None) -> Callable[[Row], Any]:
    key = column.key
    if "/" in key:
        parts = key.split("/")

        def raw(row: Row) -> Any:
            v: Any = row
            for p in parts:
                v = v.get(p) if isinstance(v, Mapping) else None
            return v

        return raw if normalise is None else (lambda row: normalise(raw(row)))
    if normalise is None:
        return lambda row: row.get(key)
    return lambda row: normalise(row.get(key))


# --- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(
        self, text: str, resolver: Resolver, aliases: Mapping[str, str], settings: FilterSettings
    ) -> None:
        self.text = text
        self.resolver = resolver
        self.aliases = aliases
        self.settings = settings
        self.toks = _tokenize(text)
        self.i = 0
        self.columns: set[str] = set()

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _is_word(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text == word

    def error(self, template: str, pos: int) -> ODataError:
        return ODataError(f"{template} at position {pos} in '{self.text}'.")

    def parse(self) -> Predicate:
        node = self.parse_or()
        if self.tok.kind != "end":
            raise self.error("Syntax error", self.tok.end)
        if _node_kind(node) not in ("bool", "any", "null"):
            raise ODataError("The $filter expression must evaluate to a single boolean value.")
        return _as_predicate(node)

    def parse_or(self) -> _Node:
        return self._parse_logical("or", "Or", self.parse_and)

    def parse_and(self) -> _Node:
        return self._parse_logical("and", "And", self.parse_comparison)

    def _parse_logical(self, word: str, name: str, operand: Callable[[], _Node]) -> _Node:
        """``operand (word operand)*``, left-associative."""
        left = operand()
        while self._is_word(word):
            self.i += 1
            left = _Bool(_logical(name, left, operand()))
        return left

    def parse_comparison(self) -> _Node:
        left = self.parse_unary()
        while self.tok.kind == "ident" and (self.tok.text in _OPERATOR_KIND or self.tok.text in _ARITHMETIC):
            op = self.tok.text
            if op in _ARITHMETIC:
                raise ODataError(f"The '{op}' operator is not supported by the emulator's $filter.")
            self.i += 1
            right = self.parse_unary()
            left = _Bool(self.compile_comparison(op, left, right))
        return left

    def parse_unary(self) -> _Node:
        if self._is_word("not"):
            self.i += 1
            operand = self.parse_unary()
            if _node_kind(operand) not in ("bool", "any", "null"):
                raise ODataError(
                    "A unary operator with an incompatible type was detected. "
                    f"Found operand type '{_node_edm(operand)}' for operator kind 'Not'."
                )
            fn = _as_predicate(operand)
            return _Bool(lambda row: not fn(row))
        return self.parse_primary()

    def parse_primary(self) -> _Node:
        tok = self.tok
        if tok.kind == "(":
            self.i += 1
            node = self.parse_or()
            if self.tok.kind != ")":
                raise self.error("')' or operator expected", self.tok.pos)
            self.i += 1
            return node
        if tok.kind == "lit":
            self.i += 1
            return tok.value
        if tok.kind == "alias":
            self.i += 1
            return self.alias_value(tok.text)
        if tok.kind == "crmfn":
            self.i += 1
            return self.query_function(tok)
        if tok.kind == "ident":
            self.i += 1
            if self.tok.kind == "(" and tok.text.endswith(("/any", "/all")):
                return self.parse_lambda(tok)
            if self.tok.kind == "(":
                return self.parse_function(tok)
            return self.property(tok.text)
        raise self.error("Expression expected", tok.pos)

    def alias_value(self, name: str) -> _Lit:
        raw = self.aliases.get(name)
        if raw is None:  # OData: an alias without a value is null
            return _Lit("null", None, "Edm.Boolean")
        toks = _tokenize(raw)
        if len(toks) != 2 or toks[0].kind != "lit":
            raise ODataError(f"The value of parameter alias '{name}' must be a single literal, got '{raw}'.")
        return toks[0].value

    def property(self, name: str) -> _Prop:
        column = self.resolver.resolve(name)
        if column is None:
            head = name.split("/", 1)[0]
            navigation = getattr(self.resolver, "navigation", None)
            if "/" in name and navigation is not None and navigation(head) is not None:
                raise ODataError(
                    f"Filtering on a related table's column ('{name}') is not supported by the emulator."
                )
            unknown = head if self.resolver.resolve(head) is None else name
            raise unknown_property(unknown, self.resolver.entity)
        self.columns.add(column.key)
        kind = _KIND_BY_TYPE.get(column.attribute_type, "any")
        if kind == "dt" and column.date_only:
            kind = "date"
        edm = _EDM_BY_TYPE.get(column.attribute_type, f"Edm.{column.attribute_type}")
        return _Prop(column, kind, edm)

    def parse_function(self, name_tok: _Tok) -> _Node:
        self.i += 1  # the '('
        args: list[_Node] = []
        if self.tok.kind == ")":
            self.i += 1
        else:
            while True:
                args.append(self.parse_or())
                if self.tok.kind == ",":
                    self.i += 1
                    continue
                if self.tok.kind == ")":
                    self.i += 1
                    break
                raise self.error("')' or ',' expected", self.tok.pos)
        name = name_tok.text
        test = _STRING_FUNCTIONS.get(name)
        if test is None:
            if name in _UNSUPPORTED_FUNCTIONS:
                raise ODataError(f"The function '{name}' is not supported in $filter.")
            raise ODataError(
                f"An unknown function with name '{name}' was found. This may also be a function import "
                "or a key lookup on a navigation property, which is not allowed."
            )
        if len(args) != 2 or any(_node_kind(a) not in ("str", "any", "null", "enum") for a in args):
            raise ODataError(
                f"No function signature for the function with name '{name}' matches the specified "
                f"arguments. The function signatures considered are: {name}(Edm.String Nullable=true, "
                "Edm.String Nullable=true)."
            )
        subject, needle = (_value_fn(a, "str") for a in args)

        def call(row: Row) -> bool:
            v = subject(row)
            s = needle(row)
            return v is not None and s is not None and test(v, s)

        return _Bool(call)

    def parse_lambda(self, tok: _Tok) -> _Node:
        """``nav/any(x:x/col eq 1)``, ``nav/any()`` and ``nav/all(x:…)`` on a collection navigation property."""
        nav_name, operator_name = tok.text.rsplit("/", 1)
        lookup = getattr(self.resolver, "collection_navigation", None)
        nav = lookup(nav_name) if lookup is not None else None
        finder = getattr(self.resolver, "find", None)
        if nav is None or finder is None:
            if self.resolver.resolve(nav_name) is not None or getattr(self.resolver, "navigation", lambda n: None)(nav_name):
                raise ODataError(f"The '{operator_name}' operator needs a collection-valued navigation property; "
                                 f"'{nav_name}' is not one.")
            raise unknown_property(nav_name, self.resolver.entity)
        self.i += 1  # '('
        inner: Predicate | None = None
        if self.tok.kind == ")":
            if operator_name == "all":
                raise self.error("Expression expected", self.tok.pos)
        else:
            if self.tok.kind != "ident" or "/" in self.tok.text or self.toks[self.i + 1].kind != ":":
                raise self.error("Syntax error", self.tok.pos)
            variable = self.tok.text
            self.i += 2
            outer = self.resolver
            self.resolver = _LambdaResolver(variable, nav.resolver)
            try:
                node = self.parse_or()
            finally:
                self.resolver = outer
            if _node_kind(node) not in ("bool", "any", "null"):
                raise ODataError("The body of a lambda expression must be a boolean expression.")
            inner = _as_predicate(node)
        if self.tok.kind != ")":
            raise self.error("')' or operator expected", self.tok.pos)
        self.i += 1
        pk = self.resolver.table.primary_id  # type: ignore[attr-defined]
        source, column = nav.source, nav.lookup

        def related(row: Row) -> list[Mapping[str, Any]]:
            key = row.get(pk)
            return finder(source, column, key) if key is not None else []

        if operator_name == "any":
            test = inner
            return _Bool(lambda row: any(test is None or test(r) for r in related(row)))
        assert inner is not None
        check = inner
        return _Bool(lambda row: all(check(r) for r in related(row)))

    def query_function(self, tok: _Tok) -> _Node:
        """Dataverse query functions ``Microsoft.Dynamics.CRM.<Fn>(PropertyName='x',PropertyValue(s)=…)``.
        [PA-FILTER] Implemented: In, NotIn, Between, NotBetween, LastXDays, OnOrAfter, OnOrBefore; the other
        documented functions are refused (501), unknown names get ODataLib's unknown-function error."""
        name = tok.text[len(CRM_NAMESPACE):]
        if name not in QUERY_FUNCTIONS:
            if name in UNIMPLEMENTED_QUERY_FUNCTIONS:
                raise ODataError(f"The emulator does not implement the query function '{tok.text}'.", status=501)
            raise ODataError(
                f"An unknown function with name '{tok.text}' was found. This may also be a function import "
                "or a key lookup on a navigation property, which is not allowed."
            )
        args: dict[str, str] = {}
        for part in _split_args(tok.value):
            key, eq, value = part.partition("=")
            if not eq:
                raise self.error("Syntax error", tok.pos)
            args[key.strip()] = value.strip()
        value_name = QUERY_FUNCTIONS[name]
        if set(args) != {"PropertyName", value_name}:
            raise ODataError(f"The function '{tok.text}' takes the parameters PropertyName and {value_name}.")
        prop_text = self._resolve_alias(args["PropertyName"])
        if not (len(prop_text) >= 2 and prop_text[0] == prop_text[-1] and prop_text[0] in "'\""):
            raise ODataError(f"The PropertyName of '{tok.text}' must be a quoted property name.")
        prop = self.property(prop_text[1:-1])
        raw_values = _list_items(self._resolve_alias(args[value_name]))
        get = _value_fn(prop, prop.kind if prop.kind in _NORMALISERS else "any")
        if name in ("LastXDays",):
            if len(raw_values) != 1 or not raw_values[0].lstrip("-").isdigit() or prop.kind not in ("dt", "date"):
                raise ODataError(f"'{tok.text}' needs a date-time property and a whole number of days.")
            now = self.settings.now()
            start = datetime.combine(now.date(), datetime.min.time(), UTC) - timedelta(days=int(raw_values[0]))
            to_dt = _to_datetime
            return _Bool(lambda row: (v := to_dt(row.get(prop.column.key))) is not None and start <= v <= now)
        values = [_typed_value(prop, v, tok.text) for v in raw_values]
        if name in ("OnOrAfter", "OnOrBefore"):
            if prop.kind not in ("dt", "date") or len(values) != 1:
                raise ODataError(f"'{tok.text}' needs a date-time property and one date.")
            day = _to_date(values[0])
            to_date = _to_date
            after = name == "OnOrAfter"
            return _Bool(lambda row: (d := to_date(row.get(prop.column.key))) is not None
                         and (d >= day if after else d <= day))
        if name in ("Between", "NotBetween"):
            if len(values) != 2:
                raise ODataError(f"'{tok.text}' needs exactly two PropertyValues.")
            lo, hi = values
            inside = name == "Between"
            return _Bool(lambda row: (v := get(row)) is not None and _safe(_between, v, (lo, hi)) == inside)
        wanted = set(values)
        member = name == "In"
        return _Bool(lambda row: (v := get(row)) is not None and (v in wanted) == member)

    def _resolve_alias(self, raw: str) -> str:
        if raw.startswith("@"):
            value = self.aliases.get(raw)
            if value is None:
                raise ODataError(f"The parameter alias '{raw}' has no value.")
            return value.strip()
        return raw

    def compile_comparison(self, op: str, left: _Node, right: _Node) -> Predicate:
        left, right = self.coerce_quoted_guid(left, right), self.coerce_quoted_guid(right, left)
        domain = _comparison_domain(op, left, right)
        if isinstance(left, _Lit) and not isinstance(right, _Lit):
            left, right, op = right, left, _SWAPPED[op]
        get = _value_fn(left, domain)
        ordered_guids = domain == "guid" and op in _ORDER_OPS
        if ordered_guids:
            get = _ordered_by_guid(get)
        ne_null = self.settings.ne_matches_null
        if isinstance(right, _Lit):
            c = _normalise_literal(right, domain)
            if ordered_guids:
                c = _guid_order(c)
            if c is None:
                if op == "eq":
                    return lambda row: get(row) is None
                if op == "ne":
                    return lambda row: get(row) is not None
                return lambda row: False
            if op == "eq":
                return lambda row: get(row) == c
            if op == "ne":
                if ne_null:
                    return lambda row: get(row) != c

                def ne_not_null(row: Row) -> bool:
                    v = get(row)
                    return v is not None and v != c

                return ne_not_null
            cmp = _ORDER_OPS[op]

            def ordered(row: Row) -> bool:
                v = get(row)
                return v is not None and _safe(cmp, v, c)

            return ordered
        other = _value_fn(right, domain)
        if ordered_guids:
            other = _ordered_by_guid(other)

        def both(row: Row) -> bool:
            a, b = get(row), other(row)
            if a is None or b is None:
                if op == "eq":
                    return a is b
                return op == "ne" and ne_null and (a is not b)
            if op == "eq":
                return a == b
            if op == "ne":
                return a != b
            return _safe(_ORDER_OPS[op], a, b)

        return both

    def coerce_quoted_guid(self, node: _Node, other: _Node) -> _Node:
        """``_x_value eq '<guid>'``: accepted when the setting allows (Dataverse seems lenient)."""
        if (
            self.settings.accept_quoted_guid
            and isinstance(node, _Lit)
            and node.kind == "str"
            and _node_kind(other) == "guid"
            and _GUID_TEXT.match(node.value)
        ):
            return _Lit("guid", node.value.strip("{}").lower(), "Edm.Guid")
        return node


def _safe(cmp: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    try:
        return cmp(a, b)
    except TypeError:  # untyped (metadata) columns holding mixed values: no match, like SQL
        return False


_COMPATIBLE = {
    frozenset({"num"}), frozenset({"str"}), frozenset({"bool"}), frozenset({"guid"}), frozenset({"dt"}),
    frozenset({"date"}), frozenset({"dt", "date"}), frozenset({"enum"}), frozenset({"enum", "str"}),
}


def _comparison_domain(op: str, left: _Node, right: _Node) -> str:
    kinds = {_node_kind(left), _node_kind(right)}
    if "any" in kinds:
        return "any"
    kinds.discard("null")
    if not kinds:
        return "null"
    if frozenset(kinds) not in _COMPATIBLE:
        raise ODataError(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{_node_edm(left)}' and '{_node_edm(right)}' for operator kind '{_OPERATOR_KIND[op]}'."
        )
    if kinds == {"dt", "date"}:
        # A date-only column is compared by date; a datetime column against midnight UTC.
        date_only = any(isinstance(n, _Prop) and n.kind == "date" for n in (left, right))
        return "date" if date_only else "dt"
    if kinds & {"str", "enum"}:
        return "str"
    return kinds.pop()


def _normalise_literal(lit: _Lit, domain: str) -> Any:
    normalise = _NORMALISERS.get(domain)
    return lit.value if normalise is None else normalise(lit.value)


def _value_fn(node: _Node, domain: str) -> Callable[[Row], Any]:
    if isinstance(node, _Lit):
        constant = _normalise_literal(node, domain)
        return lambda row: constant
    if isinstance(node, _Prop):
        return _getter(node.column, _NORMALISERS.get(domain))
    return node.fn


def _ordered_by_guid(get: Callable[[Row], Any]) -> Callable[[Row], Any]:
    return lambda row: _guid_order(get(row))


def _as_predicate(node: _Node) -> Predicate:
    if isinstance(node, _Bool):
        return node.fn
    if isinstance(node, _Lit):
        constant = bool(node.value)
        return lambda row: constant
    get = _getter(node.column, None)
    return lambda row: bool(get(row))


def _logical(kind: str, left: _Node, right: _Node) -> Predicate:
    for node in (left, right):
        if _node_kind(node) not in ("bool", "any", "null"):
            raise ODataError(
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{_node_edm(left)}' and '{_node_edm(right)}' for operator kind '{kind}'."
            )
    a, b = _as_predicate(left), _as_predicate(right)
    if kind == "And":
        return lambda row: a(row) and b(row)
    return lambda row: a(row) or b(row)


# --- query functions -------------------------------------------------------------------------------

# Implemented functions -> the name of their value parameter.
QUERY_FUNCTIONS = {
    "In": "PropertyValues", "NotIn": "PropertyValues", "Between": "PropertyValues",
    "NotBetween": "PropertyValues", "LastXDays": "PropertyValue", "OnOrAfter": "PropertyValue",
    "OnOrBefore": "PropertyValue",
}
# Documented Dataverse query functions the emulator refuses rather than ignores. [PA-FILTER]
UNIMPLEMENTED_QUERY_FUNCTIONS = {
    "Above", "AboveOrEqual", "ContainValues", "DoesNotContainValues", "EqualBusinessId", "EqualUserId",
    "EqualUserLanguage", "EqualUserOrUserHierarchy", "EqualUserOrUserHierarchyAndTeams", "EqualUserOrUserTeams",
    "EqualUserTeams", "InFiscalPeriod", "InFiscalPeriodAndYear", "InFiscalYear", "InOrAfterFiscalPeriodAndYear",
    "InOrBeforeFiscalPeriodAndYear", "Last7Days", "LastFiscalPeriod", "LastFiscalYear", "LastMonth", "LastWeek",
    "LastXFiscalPeriods", "LastXFiscalYears", "LastXHours", "LastXMonths", "LastXWeeks", "LastXYears", "LastYear",
    "Next7Days", "NextFiscalPeriod", "NextFiscalYear", "NextMonth", "NextWeek", "NextXDays", "NextXFiscalPeriods",
    "NextXFiscalYears", "NextXHours", "NextXMonths", "NextXWeeks", "NextXYears", "NextYear", "NotBusinessId",
    "NotEqualUserId", "NotUnder", "OlderThanXDays", "OlderThanXHours", "OlderThanXMinutes", "OlderThanXMonths",
    "OlderThanXWeeks", "OlderThanXYears", "On", "ThisFiscalPeriod", "ThisFiscalYear", "ThisMonth", "ThisWeek",
    "ThisYear", "Today", "Tomorrow", "Under", "UnderOrEqual", "Yesterday",
}


def _split_args(text: str) -> list[str]:
    parts, buf = [], []
    for _, ch, depth, quoted in _nesting(text):
        if ch == "," and not quoted and depth == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return [p for p in parts if p.strip()]


def _list_items(raw: str) -> list[str]:
    """``['a','b']`` / ``["a","b"]`` / ``[1,2]`` / a single literal -> the items' text, quotes removed."""
    raw = raw.strip()
    items = _split_args(raw[1:-1]) if raw.startswith("[") and raw.endswith("]") else [raw]
    out = []
    for item in (i.strip() for i in items):
        if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
            item = item[1:-1].replace(item[0] * 2, item[0])
        out.append(item)
    return out


def _typed_value(prop: _Prop, text: str, fn: str) -> Any:
    try:
        if prop.kind == "num":
            return float(text)
        if prop.kind == "bool":
            return text.lower() in ("true", "1")
        if prop.kind == "dt":
            return _to_datetime(text.replace("Z", "+00:00"))
        if prop.kind == "date":
            return _to_date(text)
        if prop.kind in ("str", "guid"):
            return text.strip("{}").lower() if prop.kind == "guid" else text.lower()
    except ValueError:
        raise ODataError(f"The value '{text}' passed to '{fn}' is not valid for property "
                         f"'{prop.column.key}' ({prop.edm}).") from None
    return text


def _between(v: Any, bounds: tuple[Any, Any]) -> bool:
    return bounds[0] <= v <= bounds[1]


# --- public API ----------------------------------------------------------------------------------


class Expr:
    """A compiled ``$filter``: ``evaluate(row) -> bool``; ``columns`` lists the row keys it reads."""

    __slots__ = ("text", "evaluate", "columns")

    def __init__(self, text: str, evaluate: Predicate, columns: frozenset[str]) -> None:
        self.text = text
        self.evaluate = evaluate
        self.columns = columns

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"


def parse_filter(
    text: str,
    resolver: Resolver,
    aliases: Mapping[str, str] | None = None,
    settings: FilterSettings = FilterSettings(),
) -> Expr:
    """Parse and compile a ``$filter`` value (already URL-decoded).

    ``aliases`` may be the whole decoded query dict; only ``@name`` keys are used.
    Raises ``ODataError`` (400, 0x80060888) with ODataLib's wording for any bad input.
    """
    parser = _Parser(text, resolver, aliases or {}, settings)
    predicate = parser.parse()
    return Expr(text, predicate, frozenset(parser.columns))
