"""Severity of each check: ``error`` fails the DAG run (after the report is written), ``warning``
only reports, ``off`` drops the check.

Every check has an id ``<table>.<kind>[.<detail>]`` (e.g. ``cdm_worker.not_null.cdm_workernumber``,
``cdm_employment.references.cdm_workerid``). Its severity is the kind's default below (every check
of an optional catalog table, ``required: false``, defaults to ``warning``), unless an override
matches. Override keys are a check id, a kind (``option_domain``), a table (``cdm_worker``) or an
``fnmatch`` pattern over ids (``cdm_worker.*``, ``*.dates.*``); when several match, the longest key
wins (an exact id always beats a pattern).
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

from ..vocabulary import Severity

SEVERITIES = tuple(Severity)

KINDS = ("completeness", "not_null", "has_values", "unique", "references", "option_domain", "dates",
         "freshness", "mapping")
DEFAULT_SEVERITY: dict[str, Severity] = {
    "completeness": Severity.ERROR,  # a table pulled only partly
    "not_null": Severity.ERROR,  # a required field missing
    "has_values": Severity.WARNING,  # an optional column null everywhere: permissions or field security
    "unique": Severity.ERROR,  # duplicate primary or business keys
    "references": Severity.ERROR,  # a lookup pointing at a row that never arrived
    "option_domain": Severity.WARNING,  # a choice value consumers do not know
    "dates": Severity.WARNING,  # implausible dates
    "freshness": Severity.ERROR,  # the sync has not succeeded lately
    "mapping": Severity.ERROR,  # workers without their bookable resource/characteristics
}


def validate_overrides(overrides: Mapping[str, str]) -> None:
    """Raise ``ValueError`` naming every override whose value is not a severity."""
    bad = [f"{key!r}: {value!r}" for key, value in overrides.items() if value not in SEVERITIES]
    if bad:
        raise ValueError(f"unknown severity for {', '.join(bad)} (use one of {Severity.listing()})")


def override_matches(key: str, check_id: str, kind: str, table: str) -> bool:
    return key in (check_id, kind, table) or fnmatchcase(check_id, key)


def resolve(check_id: str, kind: str, table: str, *, optional_table: bool,
            overrides: Mapping[str, str]) -> str:
    """The severity of one check (see the module docstring)."""
    matching = [k for k in overrides if override_matches(k, check_id, kind, table)]
    if matching:
        best = max(matching, key=lambda k: (k == check_id, len(k)))
        return overrides[best]
    return Severity.WARNING if optional_table else DEFAULT_SEVERITY[kind]


def unused_overrides(overrides: Mapping[str, str], checks: list[tuple[str, str, str]]) -> list[str]:
    """Override keys matching none of the ``(check_id, kind, table)`` given (likely typos)."""
    return [k for k in overrides if not any(override_matches(k, *c) for c in checks)]
