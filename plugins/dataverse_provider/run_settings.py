"""The settings a step runs with: code default < deployment Variable < this run's trigger form.

One rule for every settings object (``hr_dataverse.layered``). The deployment layer of each object
is an Airflow Variable holding a JSON object, set once per deployment (Admin → Variables, or
``AIRFLOW_VAR_<NAME>``):

* ``urs_mapping`` ← ``hr_urs_mapping_settings``, e.g. ``{"enabled": false}`` or the Worker lookup's
  name in this tenant;
* ``data_quality`` ← ``hr_data_quality_settings``, e.g. ``{"freshness_hours": 48}``.

The trigger form's objects default to null: only keys a person typed in override the deployment,
so a scheduled run always runs with the deployment's settings. Each step logs the effective
settings and the origin of every value when it starts (``log_settings``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from hr_dataverse.layered import Layered
    from hr_dataverse.urs import MappingSettings

log = logging.getLogger(__name__)

MAPPING_VARIABLE = "hr_urs_mapping_settings"
QUALITY_VARIABLE = "hr_data_quality_settings"
RUN_SWITCHES = {"full_remap": False}  # urs_mapping keys that are run switches, not MappingSettings fields


def variable_object(name: str) -> dict[str, Any]:
    """An Airflow Variable holding a JSON object, or {} when it is not set; bad JSON fails the task
    naming the Variable."""
    from airflow.sdk import Variable

    raw = Variable.get(name, default=None)  # parsed here: deserialize_json hides bad JSON
    if raw is None or not str(raw).strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise AirflowFailException(f"Airflow Variable {name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise AirflowFailException(f"Airflow Variable {name} must be a JSON object of settings, "
                                   f"got {type(value).__name__}")
    return value


def form_object(name: str, value: Any) -> dict[str, Any]:
    """A trigger-form object: null/empty → {} (nothing set); JSON text (a templated field) parsed."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise AirflowFailException(f"{name}: expected a JSON object, got {value!r}") from None
    if not isinstance(value, Mapping):
        raise AirflowFailException(f"{name}: expected a JSON object, got {type(value).__name__}")
    return dict(value)


def mapping_layers(form: Any, deployment: Mapping[str, Any] | None = None) -> Layered:
    """The ``urs_mapping`` settings in effect: ``MappingSettings`` defaults < ``deployment`` (default:
    the Variable) < ``form``."""
    from hr_dataverse.layered import layer
    from hr_dataverse.urs import MappingSettings

    defaults = {f.name: f.default for f in fields(MappingSettings)} | RUN_SWITCHES
    if deployment is None:
        deployment = variable_object(MAPPING_VARIABLE)
    return layer("urs_mapping", defaults, deployment, form_object("urs_mapping", form),
                 deployment_source=f"Variable {MAPPING_VARIABLE}")


def mapping_settings(layers: Layered) -> tuple[MappingSettings, bool]:
    """``MappingSettings`` and ``full_remap`` from the layered values; a bad value fails the task naming it."""
    from hr_dataverse.urs import MappingConfigError, MappingSettings

    values = dict(layers.values)
    full_remap = values.pop("full_remap", False)
    if not isinstance(full_remap, bool):
        raise AirflowFailException(f"urs_mapping: full_remap must be true or false, got {full_remap!r}")
    try:
        return MappingSettings.from_mapping(values), full_remap
    except MappingConfigError as exc:
        raise AirflowFailException(f"urs_mapping: {exc} (origins: {_origins_of(layers, str(exc))})") from None


def effective_mapping(form: Any) -> tuple[MappingSettings, bool]:
    """Settings and ``full_remap`` for this run (Variable + form), without logging."""
    return mapping_settings(mapping_layers(form))


def mapping_enabled(form: Any) -> bool:
    """Whether the URS mapping runs in this run: the tables only it needs are required only then."""
    return bool(effective_mapping(form)[0].enabled)


def quality_layers(form: Any, task_severity: Mapping[str, str] | None = None) -> Layered:
    """The ``data_quality`` overrides in effect: defaults (with the task's own severity) < the
    ``hr_data_quality_settings`` Variable < the form. ``severity`` entries merge across layers."""
    from hr_dataverse.layered import layer
    from hr_dataverse.quality.settings import QualitySettings
    from hr_dataverse.settings_schema import schema_properties

    code = QualitySettings()  # its defaults of the keys the form offers
    defaults = {**{k: getattr(code, k) for k in schema_properties(QualitySettings)},
                "severity": dict(task_severity or {})}
    return layer("data_quality", defaults, variable_object(QUALITY_VARIABLE), form_object("data_quality", form),
                 deployment_source=f"Variable {QUALITY_VARIABLE}", merge=("severity",))


def log_settings(layers: Layered, logger: logging.Logger | None = None) -> None:
    """The effective settings, one line per key with its origin, at the start of a step."""
    out = logger or log
    out.info("%s settings in effect (code default < deployment < trigger form):", layers.name)
    for line in layers.describe():
        out.info("  %s", line)


def _origins_of(layers: Layered, message: str) -> str:
    named = [k for k in layers.values if k in message]
    return ", ".join(f"{k} from {layers.origins.get(k)}" for k in named) or "see the settings log above"
