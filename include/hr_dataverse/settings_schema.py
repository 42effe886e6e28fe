"""Settings fields that describe themselves, and the JSON Schema generated from them.

A settings dataclass declares a field a person may set per run with :func:`setting` (a title, a
description and JSON-Schema constraints in the field's metadata). :func:`schema_properties` turns
those fields into JSON-Schema ``properties`` (the Airflow trigger form's), so the form is generated
from the dataclass, never copied. The type comes from the annotation, the default ends the
description; the dataclass's own validation stays the authority on values. Standard library only:
imported when a DAG file is parsed.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

FORM_KEY = "form"  # field metadata key holding the description of a settable field


def setting(default: Any = dataclasses.MISSING, *, title: str, description: str = "",
            default_factory: Any = dataclasses.MISSING, default_label: str | None = None,
            **constraints: Any) -> Any:
    """A dataclass field a person may set per run. ``constraints``: JSON-Schema keywords (``minimum``,
    ``enum``, ``pattern``, …); ``default_label``: how the default reads (``"85 = GMT"``)."""
    meta = {FORM_KEY: {"title": title, "description": description, "default_label": default_label,
                       "constraints": constraints}}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def schema_properties(cls: type) -> dict[str, dict[str, Any]]:
    """JSON-Schema ``properties`` of the fields of ``cls`` declared with :func:`setting`, in field order."""
    hints = typing.get_type_hints(cls)
    properties: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(cls):
        form = f.metadata.get(FORM_KEY)
        if form is None:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        label = form["default_label"] or _label(default)
        description = f"{form['description']} Default: {label}.".strip()
        properties[f.name] = {**_json_type(hints[f.name]), **form["constraints"], "title": form["title"],
                              "description": description}
    return properties


def _json_type(annotation: Any) -> dict[str, Any]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        schema = _json_type(inner)
        return {**schema, "type": [schema["type"], "null"]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"type": "string" if issubclass(annotation, str) else "integer",
                "enum": [member.value for member in annotation]}
    origin = typing.get_origin(annotation) or annotation
    for python, json_type in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if origin is python:
            return {"type": json_type}
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return {"type": "object"}
    raise TypeError(f"no JSON-Schema type for {annotation!r}")


def _label(default: Any) -> str:
    if default is None:
        return "null"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, enum.Enum):
        return str(default.value)
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default) if not isinstance(default, Mapping) else (str(dict(default)) if default else "none")
