"""One precedence rule for every settings object (``urs_mapping``, ``data_quality``, any later one):

    code default  <  deployment settings  <  values a person explicitly set for this run

*Deployment settings* are what the deployment configured once (an Airflow Variable, connection
extras); the *run* layer holds only keys a person typed into the trigger form. An absent key, or a
form left at its default (null or ``{}``), sets nothing, so a scheduled run uses the deployment's
settings and a form default can never override them. ``layer`` returns the effective values and,
per key, where the value came from, for the log line at the start of the step.

Keys listed in ``merge`` hold mappings whose entries merge across layers (e.g. ``severity``: a
deployment's ``{"option_domain": "error"}`` and a run's ``{"cdm_worker": "off"}`` both apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Origin(StrEnum):
    """Where an effective setting came from, lowest precedence first."""

    DEFAULT = "code default"
    DEPLOYMENT = "deployment"
    RUN = "trigger form"


@dataclass(frozen=True)
class Layered:
    """The effective settings of one object and the origin of each value."""

    name: str
    values: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)  # key -> Origin, with the deployment's source named

    def overrides(self) -> dict[str, Any]:
        """Values set by the deployment or the run (what differs from the code defaults on purpose)."""
        return {k: v for k, v in self.values.items() if self.origins.get(k) != Origin.DEFAULT}

    def describe(self) -> list[str]:
        """One line per key: ``enabled = false  (deployment: Variable hr_urs_mapping_settings)``."""
        return [f"{key} = {_show(value)}  ({self.origins.get(key, Origin.DEFAULT)})"
                for key, value in sorted(self.values.items())]


def layer(name: str, defaults: Mapping[str, Any], deployment: Mapping[str, Any] | None = None,
          run: Mapping[str, Any] | None = None, *, deployment_source: str = "",
          merge: tuple[str, ...] = ()) -> Layered:
    """Apply ``deployment`` then ``run`` over ``defaults`` (see the module docstring).

    ``deployment_source`` names where the deployment layer was read (``Variable x``) for the
    origins. Keys absent from ``defaults`` are kept (the settings class then names unknown ones).
    """
    values = dict(defaults)
    origins = {k: str(Origin.DEFAULT) for k in values}
    deployed = f"{Origin.DEPLOYMENT}: {deployment_source}" if deployment_source else str(Origin.DEPLOYMENT)
    for layer_values, origin in ((deployment, deployed), (run, str(Origin.RUN))):
        for key, value in (layer_values or {}).items():
            if key in merge and isinstance(value, Mapping) and isinstance(values.get(key), Mapping):
                value = {**values[key], **value}
                origin_here = origin if origins.get(key) == Origin.DEFAULT or not values[key] else (
                    f"{origins[key]} + {origin}")
            else:
                origin_here = origin
            values[key] = value
            origins[key] = origin_here
    return Layered(name, values, origins)


def is_unset(form_value: Any) -> bool:
    """A trigger-form object left at its default: nothing was set for this run."""
    return form_value is None or form_value == {} or form_value == ""


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return repr(value) if isinstance(value, str) else str(value)
