"""Data-quality settings (``QualitySettings``); where reports go is described in ``paths.py``.

``QualitySettings.from_params`` reads the values a DAG's trigger form may pass (``severity``,
``freshness_hours``, tolerances); bad input raises ``QualityConfigError`` naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..settings_schema import setting
from ..urs.settings import MappingSettings
from .paths import quality_root
from .severity import SEVERITIES, validate_overrides

# Optional catalog columns HR leaves empty in every row unless a feature is used: open-ended validity
# and end dates (no terminations yet), position activation/retirement, web addresses, notes. An
# all-null column there says nothing about permissions, so the "column has values" check skips it.
DEFAULT_MAY_BE_EMPTY: dict[str, tuple[str, ...]] = {
    "cdm_job": ("cdm_validto",),
    "cdm_jobposition": ("cdm_description", "cdm_activation", "cdm_retirement", "cdm_availableforassignment",
                        "cdm_validto"),
    "cdm_worker": ("cdm_websiteurl", "cdm_officegraphidentifier"),
    "cdm_employment": ("cdm_employmentenddate", "cdm_validto", "cdm_lastdateworked"),
    "cdm_positionworkerassignmentmap": ("cdm_validto",),
    "cdm_workeraddress": ("cdm_expirationdate",),
    "mshr_hcmratinglevelentity": ("mshr_note",),
    "mshr_hcmskillentity": ("mshr_note",),
    "mshr_hcmworkercertificateentity": ("mshr_notes",),
}


class QualityConfigError(ValueError):
    """A data-quality setting is invalid; the message names the setting and what is accepted."""


@dataclass(frozen=True)
class QualitySettings:
    """How the checks are built and where reports go.

    :param quality_dir: report root, needed to run the checks (the deployment passes ``$HR_QUALITY_DIR``
        or ``<checkout>/reports/quality``).
    :param freshness_hours: the last successful sync of each table must be at most this old.
    :param exact_count_tolerance: rows the live count may differ from an exact source count
        (``$count``, taken just before the read; changes made during the read shift it).
    :param snapshot_count_tolerance: relative difference allowed from a snapshot count
        (``RetrieveTotalRecordCount``, up to 24 h old; used by the sync at and above 5000 rows).
    :param snapshot_threshold: source counts at or above this came from the snapshot (Dataverse's
        ``$count`` cap; see ``hr_dataverse.sync.counts``).
    :param min_rows_for_empty_check: tables with fewer live rows skip the "column has values" check.
    :param may_be_empty: table -> optional columns allowed to be null in every row.
    :param birth_min_age_years / birth_max_age_years: plausible worker ages for birth dates.
    :param sample_size: failing values shown per check in the summary.
    :param severity: overrides (see ``severity.py``): ``{"option_domain": "error", "cdm_worker": "off"}``.
    :param hr_virtual_prefix: prefix of the HR virtual tables in the catalog (``mshr_``; ``mserp_``
        on newer infrastructure); the hand-written rules are rewritten to it.
    :param keep_runs: run folders and history entries kept (Data Docs keep every run).
    :param option_domains: table -> column -> known option values (from Dataverse metadata, see
        ``option_sets.py``); a choice column without a domain is checked through its missing labels.
    :param mapping: the HR→URS mapping's settings (who is eligible, expired certificates), so the
        mapping-completeness check expects what the mapping does; pass the ones the mapping runs with.
    """

    quality_dir: Path | None = None
    freshness_hours: float = setting(26.0, title="Freshness window, hours", exclusiveMinimum=0,
                                     description="The last successful sync of each table must be at most this old.")
    exact_count_tolerance: int = setting(0, title="Row-count tolerance (exact counts)", minimum=0)
    snapshot_count_tolerance: float = setting(0.05, title="Row-count tolerance (snapshot counts, a fraction)",
                                              minimum=0, exclusiveMaximum=1)
    snapshot_threshold: int = 5000
    min_rows_for_empty_check: int = 5
    may_be_empty: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_MAY_BE_EMPTY))
    birth_min_age_years: int = 14
    birth_max_age_years: int = 100
    sample_size: int = 5
    severity: Mapping[str, str] = setting(
        default_factory=dict, title="Severity overrides",
        additionalProperties={"type": "string", "enum": [str(s) for s in SEVERITIES]},
        description="Key: a check id, a kind (completeness, not_null, has_values, unique, references, "
                    "option_domain, dates, freshness, mapping), a table or an fnmatch pattern; value: error (fails "
                    "the run), warning (reported only) or off.")
    hr_virtual_prefix: str = "mshr_"
    keep_runs: int = 90
    mapping: MappingSettings = field(default_factory=MappingSettings)
    option_domains: Mapping[str, Mapping[str, Sequence[int]]] | None = None

    def __post_init__(self) -> None:
        problems = []
        if not (self.freshness_hours > 0 and math.isfinite(self.freshness_hours)):
            problems.append(f"freshness_hours must be a positive number of hours, got {self.freshness_hours!r}")
        if self.exact_count_tolerance < 0:
            problems.append(f"exact_count_tolerance must be 0 or more rows, got {self.exact_count_tolerance!r}")
        if not 0 <= self.snapshot_count_tolerance < 1:
            problems.append("snapshot_count_tolerance must be a fraction between 0 and 1, "
                            f"got {self.snapshot_count_tolerance!r}")
        if not 0 <= self.birth_min_age_years < self.birth_max_age_years:
            problems.append("birth_min_age_years must be at least 0 and below birth_max_age_years, got "
                            f"{self.birth_min_age_years!r} and {self.birth_max_age_years!r}")
        for name in ("snapshot_threshold", "min_rows_for_empty_check", "sample_size", "keep_runs"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)!r}")
        try:
            validate_overrides(self.severity)
        except ValueError as exc:
            problems.append(f"severity: {exc}")
        if problems:
            raise QualityConfigError("; ".join(problems))

    @property
    def root(self) -> Path:
        if self.quality_dir is None:
            raise QualityConfigError("quality_dir is not set: say where the quality reports go")
        return quality_root(self.quality_dir)

    def with_params(self, params: Mapping[str, Any] | None) -> QualitySettings:
        """These settings with the trigger-form values in ``params`` applied (see ``from_params``)."""
        return replace(self, **_parse_params(params or {}, self.severity))

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None = None, **defaults: Any) -> QualitySettings:
        """Settings from ``defaults`` with trigger-form ``params`` on top.

        Accepted params: ``severity`` (dict, or its JSON text as a templated field renders it),
        ``freshness_hours``, ``exact_count_tolerance``, ``snapshot_count_tolerance``. ``severity``
        entries are merged over the defaults' overrides.
        """
        return cls(**defaults).with_params(params)


_PARAM_TYPES: dict[str, type] = {"freshness_hours": float, "exact_count_tolerance": int,
                                 "snapshot_count_tolerance": float}


def _parse_params(params: Mapping[str, Any], base_severity: Mapping[str, str]) -> dict[str, Any]:
    known = {f.name for f in fields(QualitySettings)}
    unknown = sorted(k for k in params if k != "severity" and k not in _PARAM_TYPES)
    if unknown:
        hint = " (set it on the operator, not in the trigger form)" if set(unknown) & known else ""
        raise QualityConfigError(f"unknown data-quality parameter(s) {', '.join(unknown)}{hint}; accepted: "
                                 f"severity, {', '.join(_PARAM_TYPES)}")
    out: dict[str, Any] = {}
    for name, kind in _PARAM_TYPES.items():
        value = params.get(name)
        if value is None or value == "":
            continue
        try:
            out[name] = kind(value)
        except (TypeError, ValueError):
            raise QualityConfigError(f"{name} must be a {kind.__name__}, got {value!r}") from None
    severity = parse_severity(params.get("severity"))
    if severity:
        out["severity"] = {**base_severity, **severity}
    return out


def parse_severity(value: Any) -> dict[str, str]:
    """Severity overrides given as a dict or as JSON text (a templated field renders dicts as text)."""
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise QualityConfigError(f"severity must be a JSON object like {{\"option_domain\": \"error\"}}, "
                                     f"got {value!r} ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise QualityConfigError(f"severity must be a mapping of check (or table/kind) to severity, "
                                 f"got {type(value).__name__}")
    overrides = {str(k): str(v).strip().lower() for k, v in value.items()}
    try:
        validate_overrides(overrides)
    except ValueError as exc:
        raise QualityConfigError(f"severity: {exc}") from None
    return overrides

