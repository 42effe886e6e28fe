"""The trigger form's JSON Schema generated from settings dataclasses (hr_dataverse.settings_schema),
and the settings modules it reads importing without msal, requests or SQLAlchemy (DAG parse time)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import jsonschema
import pytest

from hr_dataverse.settings_schema import schema_properties, setting


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Example:
    flag: bool = setting(True, title="Flag", description="Turns it on.")
    count: int = setting(3, title="Count", minimum=1)
    ratio: float = setting(0.5, title="Ratio", exclusiveMaximum=1)
    name: str = setting("x_", title="Name", pattern="^[a-z]+_$")
    status: int | None = setting(7, title="Status", default_label="7 = active")
    colour: Colour = setting(Colour.RED, title="Colour")
    tags: Mapping[str, str] = setting(default_factory=dict, title="Tags", additionalProperties={"type": "string"})
    internal: int = 5  # not a form field
    hidden: list[str] = field(default_factory=list)


def test_the_schema_follows_the_annotations_constraints_and_defaults() -> None:
    props = schema_properties(Example)
    assert list(props) == ["flag", "count", "ratio", "name", "status", "colour", "tags"]
    assert props["flag"] == {"type": "boolean", "title": "Flag", "description": "Turns it on. Default: true."}
    assert props["count"] == {"type": "integer", "minimum": 1, "title": "Count", "description": "Default: 3."}
    assert props["ratio"]["type"] == "number" and props["ratio"]["exclusiveMaximum"] == 1
    assert props["status"]["type"] == ["integer", "null"] and props["status"]["description"] == "Default: 7 = active."
    assert props["colour"] == {"type": "string", "enum": ["red", "blue"], "title": "Colour",
                               "description": "Default: red."}
    assert props["tags"]["type"] == "object" and props["tags"]["description"] == "Default: none."
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    jsonschema.validate({"count": 2, "status": None, "colour": "blue", "tags": {"a": "b"}}, schema)
    for bad in ({"count": 0}, {"colour": "green"}, {"name": "X"}, {"internal": 1}, {"ratio": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    assert Example().count == 3 and Example().tags == {}  # still ordinary defaults


def test_settings_modules_import_light() -> None:
    code = ("import json, sys; import hr_dataverse.urs.settings, hr_dataverse.quality.settings, "
            "hr_dataverse.settings_schema; print(json.dumps(sorted(m for m in ('msal', 'requests', 'sqlalchemy', "
            "'great_expectations') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
