"""Settings of the HR → Universal Resource Scheduling mapping (``MappingSettings``).

Facts the public documentation does not confirm (shared/reference/hr-urs-data-model.md §3.1, §4.2)
are settings with the documented best guess as default:

* ``worker_column`` / ``worker_navigation``: the Worker lookup the "HR integration to URS" solution
  adds to ``bookableresource`` — logical name and navigation property are UNCONFIRMED [U]; the
  defaults ``cdm_workerid`` / ``cdm_WorkerId`` follow the HCM Common naming of that lookup.
* ``resource_type``: resources the mapping creates get type 1 (Generic). The documented default of
  the column is 3 (User), but a User resource must point at a system user, which HR workers do not
  have; Generic needs no other row. Resources that already exist keep their type.
* ``level_value_rule``: how an HR rating level becomes a URS rating ``value`` [I]. ``factor`` (the
  default) uses the level's factor 0-9, the only number HR keeps per level and unique within a
  model; ``rank`` numbers the levels 1..n by ascending factor. A model's min/max are the smallest
  and largest value of its levels (0/0 for a model without levels).
* ``active_worker_status``: the ``cdm_status`` a worker must have to get a resource (754400000 =
  employed). HR maps "terminated" and "pending" to 754400001 at once, while an employment that
  ends today is still current, so the status makes a termination take effect on the day it is
  recorded. ``None`` ignores the status.
* ``expired_certificates``: ``remove`` (default) takes the certification off the resource once the
  certificate's end date has passed; ``keep`` leaves it. The documentation does not say what the
  Microsoft solution does [U].

Only Actual skill ratings become resource characteristics (Target ratings describe where a worker
should get to, not what they can do today) [I].
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..dataverse.odata import check_name
from ..dataverse.writes import MAX_BATCH_OPERATIONS, WriteOptions
from ..settings_schema import setting

LEVEL_VALUE_RULES = ("factor", "rank")
EXPIRED_POLICIES = ("remove", "keep")
RESOURCE_TYPES = {1: "Generic", 2: "Contact", 3: "User", 4: "Equipment", 5: "Account", 6: "Crew", 7: "Facility",
                  8: "Pool"}
URS_VALUE_RANGE = (-200, 200)  # ratingvalue.value and a model's min/max must lie inside [C S10]


class MappingConfigError(ValueError):
    """A mapping setting is invalid; the message names the setting and the accepted values."""


@dataclass(frozen=True)
class MappingSettings:
    """How HR rows become URS rows. Every field is documented in the module docstring or below."""

    enabled: bool = setting(True, title="Map characteristics",
                            description="false: the mapping step is skipped; what earlier runs wrote to URS stays.")
    # [U] logical name of the Worker lookup on bookableresource
    worker_column: str = setting("cdm_workerid", title="Worker lookup column", minLength=1,
                                 description="UNCONFIRMED: logical name of the Worker lookup on bookableresource.")
    # [U] its navigation property, for @odata.bind (case-sensitive)
    worker_navigation: str = setting("cdm_WorkerId", title="Worker navigation property", minLength=1,
                                     description="UNCONFIRMED: its navigation property for @odata.bind.")
    # resourcetype of created resources (1 Generic; see module docstring)
    resource_type: int = setting(1, title="Resource type", enum=list(RESOURCE_TYPES), default_label="1 = Generic",
                                 description="resourcetype of resources the mapping creates.")
    # bookableresource.timezone (required) of created resources; 85 = GMT
    resource_timezone: int = setting(85, title="Resource time zone", minimum=-1500, maximum=1500,
                                     default_label="85 = GMT",
                                     description="Dataverse time-zone code of created resources.")
    create_missing_resources: bool = setting(True, title="Create missing resources",
                                             description="false: only resources already linked to a worker get "
                                                         "characteristics.")
    active_employment_only: bool = setting(True, title="Active employment only",
                                           description="Only workers with an employment current today get a "
                                                       "resource (false: every live worker).")
    active_worker_status: int | None = setting(754400000, title="Active worker status",
                                               description="cdm_status a worker must have; null ignores it.")
    expired_certificates: str = setting("remove", title="Expired certificates", enum=list(EXPIRED_POLICIES),
                                        description="UNCONFIRMED policy: take expired certifications off the "
                                                    "resource or keep them.")
    level_value_rule: str = setting("factor", title="Rating level → value", enum=list(LEVEL_VALUE_RULES),
                                    description="ratingvalue.value from the level's factor, or its rank 1..n.")
    # [U] mshr_; mserp_ on newer infrastructure
    hr_prefix: str = setting("mshr_", title="HR table prefix", pattern="^[a-z][a-z0-9]*_$",
                             description="Prefix of the HR virtual tables.")
    bulk_chunk_size: int = setting(200, title="Rows per *Multiple request", minimum=1,
                                   description="Targets per CreateMultiple/UpsertMultiple/UpdateMultiple request.")
    batch_size: int = setting(100, title="Operations per $batch", minimum=1, maximum=MAX_BATCH_OPERATIONS)
    changeset_size: int = setting(10, title="Operations per change set", minimum=1,
                                  description="Operations per atomic change set inside a $batch.")
    watermark_overlap_s: float = setting(300.0, title="Watermark overlap, seconds", minimum=0,
                                         description="Rows synced this long before the last watermark are looked "
                                                     "at again.")
    max_errors_reported: int = setting(20, title="Row errors kept in the summary", minimum=0)
    sample_rows: int = setting(5, title="Plan rows shown per table and operation", minimum=0)
    dry_run: bool = setting(False, title="Dry run",
                            description="Compute and log the plan (creates, updates, deactivations, removals per "
                                        "table, with counts and the first rows) without writing to Dataverse.")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> MappingSettings:
        for name, value in (("worker_column", self.worker_column), ("worker_navigation", self.worker_navigation)):
            try:
                check_name(value, name)
            except ValueError as exc:
                raise MappingConfigError(f"{name}: {exc}") from None
        if self.worker_column != self.worker_column.lower():
            raise MappingConfigError(f"worker_column: a logical name is lower case, got {self.worker_column!r}")
        if not _is_int(self.resource_type) or self.resource_type not in RESOURCE_TYPES:
            raise MappingConfigError(f"resource_type: expected one of {_choices(RESOURCE_TYPES)}, "
                                     f"got {self.resource_type!r}")
        if not _is_int(self.resource_timezone) or not -1500 <= self.resource_timezone <= 1500:
            raise MappingConfigError(f"resource_timezone: a Dataverse time-zone code (-1500..1500), "
                                     f"got {self.resource_timezone!r}")
        if self.expired_certificates not in EXPIRED_POLICIES:
            raise MappingConfigError(f"expired_certificates: expected one of {', '.join(EXPIRED_POLICIES)}, "
                                     f"got {self.expired_certificates!r}")
        if self.level_value_rule not in LEVEL_VALUE_RULES:
            raise MappingConfigError(f"level_value_rule: expected one of {', '.join(LEVEL_VALUE_RULES)}, "
                                     f"got {self.level_value_rule!r}")
        if self.active_worker_status is not None and not _is_int(self.active_worker_status):
            raise MappingConfigError(f"active_worker_status: a cdm_status choice value or None, "
                                     f"got {self.active_worker_status!r}")
        if not isinstance(self.hr_prefix, str) or not self.hr_prefix.endswith("_") or \
                self.hr_prefix != self.hr_prefix.lower():
            raise MappingConfigError(f"hr_prefix: a lower-case table prefix ending in '_' (e.g. mshr_), "
                                     f"got {self.hr_prefix!r}")
        for name in ("max_errors_reported", "sample_rows"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise MappingConfigError(f"{name}: a whole number of at least 0, got {value!r}")
        if not isinstance(self.watermark_overlap_s, int | float) or self.watermark_overlap_s < 0:
            raise MappingConfigError(f"watermark_overlap_s: seconds (at least 0), got {self.watermark_overlap_s!r}")
        try:
            self.write_options()
        except ValueError as exc:
            raise MappingConfigError(f"{exc} (at most {MAX_BATCH_OPERATIONS} operations per $batch)") from None
        return self

    def write_options(self) -> WriteOptions:
        return WriteOptions(bulk_chunk_size=self.bulk_chunk_size, batch_size=self.batch_size,
                            changeset_size=self.changeset_size)

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> MappingSettings:
        """Settings from a plain dict (an Airflow param or connection extra); unknown keys are an error."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise MappingConfigError(f"unknown mapping setting(s) {', '.join(unknown)}; "
                                     f"known: {', '.join(sorted(known))}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise MappingConfigError(str(exc)) from None

    def hr_table(self, name: str) -> str:
        """Logical name of an HR virtual table, e.g. ``hr_table('hcmskillentity')``."""
        return f"{self.hr_prefix}{name}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choices(options: dict[int, str]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in options.items())
