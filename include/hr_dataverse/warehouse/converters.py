"""Per-table compiled row converters: ``RowConverter.upsert`` as one generated function per layout.

The generic converter walks a list of column specs for every row and calls a converter and an
encoder per value (most of them identity functions on SQLite). Row conversion is the loader's
hottest Python path (one call per column per row), so ``compile_upsert`` writes that walk out once
per table: straight-line code, one block per column, the identity encoder left out, and the common
wire types (a ``str`` for text and GUIDs, an ``int`` for whole numbers) checked inline before the
general converter is called. The result is the same tuple the generic walk built, and every value
the generic walk refused is refused here with the same ``WarehouseError`` (the slow path raises it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import WarehouseError

if TYPE_CHECKING:
    from .convert import RowConverter

Upsert = Callable[[Mapping[str, Any], int], tuple[Any, ...]]


def compile_upsert(conv: RowConverter, *, identity: Callable[[Any], Any]) -> Upsert:
    """The generated ``upsert(row, seq)`` of ``conv`` (see the module docstring)."""
    from .convert import FORMATTED, _companion, _version

    layout = conv.layout
    env: dict[str, Any] = {"NULL": conv._null, "SEQ": conv._bigint, "TEXT": conv._text, "FORMATTED": FORMATTED,
                           "companion": _companion, "version": _version, "bad": _bad(layout.name, layout.primary_key),
                           "no_key": _no_key(layout.name, layout.primary_key)}
    lines = ["def upsert(row, seq):",
             "    get = row.get",
             f"    if get({layout.primary_key!r}) is None:",
             "        no_key(row)",
             f"    out = [NULL] * {len(conv.columns)}",
             "    out[0] = SEQ(seq)",
             "    out[1] = 'u'"]
    for n, (spec, index, convert, encode, companion) in enumerate(conv._specs):
        env[f"spec{n}"], env[f"conv{n}"], env[f"enc{n}"] = spec, convert, encode
        fast = {"text": "str", "guid": None, "integer": "int", "bigint": "int"}.get(spec.kind)
        lines += [f"    v = get({spec.name!r})",
                  "    if v is not None:"]
        # The inline check only skips the converter for values it would return unchanged.
        check = f"type(v) is not {fast}" if fast else "True"
        lines += [f"        if {check}:",
                  "            try:",
                  f"                v = conv{n}(v)",
                  "            except (TypeError, ValueError):",
                  f"                bad(row, spec{n}, v)"]
        encoded = "v" if encode is identity else f"enc{n}(v)"
        lines.append(f"        out[{index}] = {encoded}")
        if companion is not None:
            lines += [f"        label = get({spec.name + FORMATTED!r})",
                      "        if label is not None:",
                      f"            out[{companion}] = TEXT(str(label))"]
            if not spec.is_lookup and spec.options is not None:
                lines += ["        else:",
                          f"            label = companion(spec{n}, row, v)",
                          "            if label is not None:",
                          f"                out[{companion}] = TEXT(label)"]
    lines += ["    v = version(row)",
              "    if v is not None:",
              "        out[-1] = SEQ(v)",
              "    return tuple(out)"]
    exec(compile("\n".join(lines), f"<upsert {layout.name}>", "exec"), env)  # noqa: S102 - code built above from the layout
    return env["upsert"]


def _bad(table: str, pk: str) -> Callable[[Mapping[str, Any], Any, Any], None]:
    def bad(row: Mapping[str, Any], spec: Any, value: Any) -> None:
        raise WarehouseError(
            f"table '{table}', row {row.get(pk)}: column '{spec.name}': cannot store "
            f"{value!r} as {spec.kind} (Dataverse type {spec.attribute_type})") from None
    return bad


def _no_key(table: str, pk: str) -> Callable[[Mapping[str, Any]], None]:
    def no_key(row: Mapping[str, Any]) -> None:
        keys = ", ".join(sorted(k for k in row if "@" not in k)[:12])
        raise WarehouseError(f"table '{table}': a row has no primary key '{pk}' (it has: {keys})")
    return no_key
