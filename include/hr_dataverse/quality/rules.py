"""The data-quality checks: generated from the entity catalog plus the hand-written rules below.

``build_plan`` turns catalog + warehouse facts + settings into a ``Plan``: GX assets (the live rows
of each table, the sync state, the URS mapping state) and ``Check`` objects, each naming a GX Core
expectation and its arguments. Nothing here imports GX; ``runner.py`` does.

Per catalog table (checks run on live rows, ``_deleted_at IS NULL``):

* ``completeness``: the live row count equals the source count captured at load time (exact
  ``$count`` within ``exact_count_tolerance`` rows; a ``RetrieveTotalRecordCount`` snapshot within
  ``snapshot_count_tolerance``);
* ``not_null``: every required column is filled (null in every row: likely permission/field security);
  required columns are the catalog's plus, for entries without columns, those metadata requires;
* ``has_values``: an optional column is not null in every row (``may_be_empty`` lists the exceptions);
* ``unique``: primary key and business keys (``BUSINESS_KEYS``);
* ``references``: lookups resolve to live rows of the parent table (``REFERENCES``, plus the lookup
  targets a catalog entry without columns took from metadata, when the target is a catalog table);
* ``option_domain``: choice values lie in the option set from Dataverse metadata; without a known
  domain, a value whose ``<column>_label`` is missing is unknown to the warehouse;
* ``dates``: end not before start (``DATE_PAIRS``), birth dates within plausible ages;
* ``freshness``: the last successful sync is within ``freshness_hours``.

Plus ``mapping`` when the URS mapping state table exists (see ``MappingCheckSettings``).
Tables never loaded successfully get no data checks: a required one fails ``freshness``, an
optional one (``required: false``) is only noted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..catalog import Catalog, TableSpec
from ..urs.rules import LEVEL_TYPE_ACTUAL
from ..urs.state import MAPPING_TABLE
from ..vocabulary import Severity
from .facts import TableFacts, WarehouseFacts
from .settings import QualitySettings
from .severity import resolve, unused_overrides

COLUMNS = "columns"  # column/table expectations: SUMMARY results (bounded samples with row keys)
QUERIES = "queries"  # custom-SQL expectations: COMPLETE results (GX caps the rows it returns at 200)
STATE_ASSET = "_hr_sync_state"
MAPPING_COLUMNS = ("target_table", "hr_key", "scope_key", "active")  # of hr_dataverse.urs.state


@dataclass(frozen=True)
class Reference:
    """``table.column`` (a lookup's wire column) must point at a live row of ``parent``."""

    table: str
    column: str
    parent: str
    parent_key: str

    @property
    def lookup(self) -> str:
        return self.column[1:-len("_value")]


REFERENCES = (
    Reference("cdm_employment", "_cdm_workerid_value", "cdm_worker", "cdm_workerid"),
    Reference("cdm_employment", "_cdm_companyid_value", "cdm_company", "cdm_companyid"),
    Reference("cdm_positionworkerassignmentmap", "_cdm_jobpositionid_value", "cdm_jobposition", "cdm_jobpositionid"),
    Reference("cdm_positionworkerassignmentmap", "_cdm_workerid_value", "cdm_worker", "cdm_workerid"),
    Reference("cdm_jobposition", "_cdm_jobid_value", "cdm_job", "cdm_jobid"),
    Reference("cdm_jobposition", "_cdm_departmentid_value", "cdm_department", "cdm_departmentid"),
    Reference("mshr_hcmworkerskillentity", "_mshr_fk_worker_id_value", "cdm_worker", "cdm_workerid"),
    Reference("mshr_hcmworkerskillentity", "_mshr_fk_skill_id_value", "mshr_hcmskillentity", "mshr_hcmskillentityid"),
    Reference("mshr_hcmworkerskillentity", "_mshr_fk_ratinglevel_id_value", "mshr_hcmratinglevelentity",
              "mshr_hcmratinglevelentityid"),
    Reference("mshr_hcmworkercertificateentity", "_mshr_fk_worker_id_value", "cdm_worker", "cdm_workerid"),
    Reference("mshr_hcmworkercertificateentity", "_mshr_fk_certificatetype_id_value", "mshr_hcmcertificatetypeentity",
              "mshr_hcmcertificatetypeentityid"),
)
# Keys people and downstream systems use to find a row (besides the GUID primary key).
BUSINESS_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "cdm_company": (("cdm_companycode",),),
    "cdm_department": (("cdm_departmentnumber",),),
    "cdm_jobposition": (("cdm_jobpositionnumber",),),
    "cdm_worker": (("cdm_workernumber",),),
    "mshr_hcmratingmodelentity": (("mshr_ratingmodelid",),),
    "mshr_hcmratinglevelentity": (("mshr_ratingmodelid", "mshr_ratinglevelid"),),
    "mshr_hcmskillentity": (("mshr_skillid",),),
    "mshr_hcmcertificatetypeentity": (("mshr_certificatetype",),),
}
# (start, end): the end must not lie before the start.
DATE_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "cdm_job": (("cdm_validfrom", "cdm_validto"),),
    "cdm_jobposition": (("cdm_validfrom", "cdm_validto"), ("cdm_activation", "cdm_retirement")),
    "cdm_employment": (("cdm_employmentstartdate", "cdm_employmentenddate"), ("cdm_validfrom", "cdm_validto")),
    "cdm_positionworkerassignmentmap": (("cdm_validfrom", "cdm_validto"),),
    "cdm_workeraddress": (("cdm_effectivedate", "cdm_expirationdate"),),
    "mshr_hcmworkercertificateentity": (("mshr_startdate", "mshr_enddate"),),
    "cdm_workerfixedcompensation": (("cdm_effectivedate", "cdm_expirationdate"),),
    "cdm_compensationfixedplan": (("cdm_effectivedate", "cdm_expirationdate"),),
    "cdm_leaveenrollment": (("cdm_startdate", "cdm_enddate"),),
    "cdm_benefitcalculationratedetail": (("cdm_effective", "cdm_expiration"),),
}
BIRTH_DATES: dict[str, str] = {"cdm_worker": "cdm_birthdate", "cdm_workerpersonaldetail": "cdm_birthdate"}

NULL_EVERYWHERE_CAUSE = (
    "null in every row: the application user most likely lacks a field-security profile that grants this "
    "column, or read permission on it (Dataverse returns such columns as null instead of failing)")


@dataclass(frozen=True)
class Asset:
    """Rows a group of checks runs on: ``query`` selects them, ``index_columns`` identify a row in samples."""

    name: str
    query: str
    index_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    """One expectation. ``id`` is ``<table>.<kind>[.<detail>]`` (what severity overrides match)."""

    id: str
    table: str
    kind: str
    column: str | None
    severity: str
    description: str
    expectation: str  # GX Core expectation class name
    kwargs: dict[str, Any]
    asset: str
    group: str = COLUMNS
    cause: str | None = None  # likely cause shown when the check fails
    parent: str | None = None  # references: the table looked up

    def meta(self) -> dict[str, Any]:
        """What is stored with the expectation in GX, so results map back to the check."""
        return {"check_id": self.id, "table": self.table, "kind": self.kind, "column": self.column,
                "severity": self.severity, "cause": self.cause}


@dataclass
class Plan:
    assets: dict[str, Asset] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # checks skipped and why

    def for_asset(self, asset: str, group: str) -> list[Check]:
        return [c for c in self.checks if c.asset == asset and c.group == group]


class _Builder:
    def __init__(self, facts: WarehouseFacts, settings: QualitySettings, now: datetime) -> None:
        self.facts = facts
        self.settings = settings
        self.now = now
        self.plan = Plan()
        self.candidates: list[tuple[str, str, str]] = []  # every check considered, for override typos
        self.p = settings.hr_virtual_prefix
        self.specs: dict[str, TableSpec] = {}  # every catalog table (reference parents need their keys)

    def name(self, text: str) -> str:
        """A hand-written rule's table/column name in the catalog's HR virtual-table prefix."""
        return text.replace("mshr_", self.p) if self.p != "mshr_" else text

    def add(self, spec: TableSpec | None, table: str, kind: str, detail: str | None, *, column: str | None,
            description: str, expectation: str, kwargs: dict[str, Any], asset: str, group: str = COLUMNS,
            cause: str | None = None, parent: str | None = None) -> None:
        check_id = ".".join(p for p in (table, kind, detail) if p)
        self.candidates.append((check_id, kind, table))
        severity = resolve(check_id, kind, table, optional_table=spec is not None and not spec.required,
                           overrides=self.settings.severity)
        if severity == Severity.OFF:
            self.plan.notes.append(f"{check_id}: turned off by a severity override")
            return
        self.plan.checks.append(Check(check_id, table, kind, column, severity, description, expectation, kwargs,
                                      asset, group, cause, parent))

    # --- per table ---------------------------------------------------------------------------

    def table(self, spec: TableSpec) -> None:
        facts = self.facts.tables.get(spec.name)
        if facts is None or facts.last_sync_at is None:
            why = "has no warehouse table yet" if facts is None else "was never loaded successfully"
            if spec.required:
                self.plan.notes.append(f"{spec.name}: {why}; its data checks are skipped and its freshness "
                                       "check fails")
            else:
                self.plan.notes.append(f"{spec.name}: {why} (optional table: checks skipped)")
            return
        live = f"{self.facts.quote('_deleted_at')} IS NULL" if "_deleted_at" in facts.columns else "1 = 1"
        keys = self.business_keys(spec, facts)
        index = tuple(dict.fromkeys([spec.primary_key, *(k[0] for k in keys if len(k) == 1)]))
        self.plan.assets[spec.name] = Asset(spec.name, f"SELECT * FROM {self.facts.table_ref(spec.name)} WHERE {live}",
                                            index)
        self.completeness(spec, facts)
        self.not_null(spec, facts)
        self.has_values(spec, facts)
        self.unique(spec, keys)
        self.references(spec, facts)
        self.option_domains(spec, facts)
        self.dates(spec, facts)

    def completeness(self, spec: TableSpec, facts: TableFacts) -> None:
        count = facts.source_count
        if count is None:
            self.plan.notes.append(f"{spec.name}.completeness: no source count was captured at load time "
                                   "(Dataverse could not count the table)")
            return
        s = self.settings
        if count >= s.snapshot_threshold:
            low = math.floor(count * (1 - s.snapshot_count_tolerance))
            high = math.ceil(count * (1 + s.snapshot_count_tolerance))
            how = f"snapshot count {count} (RetrieveTotalRecordCount) within {s.snapshot_count_tolerance:.0%}"
        else:
            low, high = max(0, count - s.exact_count_tolerance), count + s.exact_count_tolerance
            how = f"exact count {count} ($count)" + (f" within {s.exact_count_tolerance} rows"
                                                      if s.exact_count_tolerance else "")
        if low == high:
            expectation, kwargs = "ExpectTableRowCountToEqual", {"value": count}
        else:
            expectation, kwargs = "ExpectTableRowCountToBeBetween", {"min_value": low, "max_value": high}
        self.add(spec, spec.name, "completeness", None, column=None, expectation=expectation, kwargs=kwargs,
                 asset=spec.name, description=f"Live rows match the source's {how} taken at load time")

    def not_null(self, spec: TableSpec, facts: TableFacts) -> None:
        derived = self.facts.rules.get(spec.name)
        for column in dict.fromkeys([*spec.required_columns, *(derived.required if derived else ())]):
            if column not in facts.columns:
                self.plan.notes.append(f"{spec.name}.not_null.{column}: the warehouse table has no such column")
                continue
            self.add(spec, spec.name, "not_null", column, column=column, asset=spec.name,
                     expectation="ExpectColumnValuesToNotBeNull", kwargs={"column": column},
                     description=f"Required column {column} is filled in every row", cause=NULL_EVERYWHERE_CAUSE)

    def has_values(self, spec: TableSpec, facts: TableFacts) -> None:
        """One query per table, one scan: the optional columns null in every live row."""
        if facts.live_rows < self.settings.min_rows_for_empty_check:
            self.plan.notes.append(f"{spec.name}.has_values: {facts.live_rows} live row(s), fewer than "
                                   f"{self.settings.min_rows_for_empty_check}: all-null columns not checked")
            return
        allowed = {self.name(c) for t, cols in self.settings.may_be_empty.items() if self.name(t) == spec.name
                   for c in cols}
        columns = [c for c in spec.columns if c != spec.primary_key and c not in spec.required_columns
                   and c not in allowed and c in facts.columns]  # a column the source lacks: the sync warned
        if not columns:
            return
        q = self.facts.quote
        counts = ", ".join(f"COUNT(b.{q(c)}) AS c{i}" for i, c in enumerate(columns))
        names = " UNION ALL ".join(f"SELECT '{c}' AS column_name, {i} AS k" for i, c in enumerate(columns))
        filled = " ".join(f"WHEN {i} THEN s.c{i}" for i in range(len(columns)))
        query = (f"SELECT x.column_name, s.live_rows FROM (SELECT COUNT(*) AS live_rows, {counts} FROM {{batch}} b) s "
                 f"JOIN ({names}) x ON CASE x.k {filled} END = 0")
        self.add(spec, spec.name, "has_values", None, column=None, asset=spec.name, group=QUERIES,
                 expectation="UnexpectedRowsExpectation", kwargs={"unexpected_rows_query": query},
                 description=f"Each of the {len(columns)} optional columns is filled in at least one row",
                 cause=NULL_EVERYWHERE_CAUSE)

    def business_keys(self, spec: TableSpec, facts: TableFacts) -> list[tuple[str, ...]]:
        keys = [tuple(self.name(c) for c in k) for t, ks in BUSINESS_KEYS.items() if self.name(t) == spec.name
                for k in ks]
        return [k for k in keys if all(c in facts.columns for c in k)]

    def unique(self, spec: TableSpec, keys: list[tuple[str, ...]]) -> None:
        self.add(spec, spec.name, "unique", spec.primary_key, column=spec.primary_key, asset=spec.name,
                 expectation="ExpectColumnValuesToBeUnique", kwargs={"column": spec.primary_key},
                 description=f"Primary key {spec.primary_key} is unique")
        for key in keys:
            if len(key) == 1:
                self.add(spec, spec.name, "unique", key[0], column=key[0], asset=spec.name,
                         expectation="ExpectColumnValuesToBeUnique", kwargs={"column": key[0]},
                         description=f"Business key {key[0]} is unique")
            else:
                self.add(spec, spec.name, "unique", "+".join(key), column=", ".join(key), asset=spec.name,
                         expectation="ExpectCompoundColumnsToBeUnique", kwargs={"column_list": list(key)},
                         description=f"Business key ({', '.join(key)}) is unique")

    def metadata_references(self, spec: TableSpec) -> list[Reference]:
        """Lookup targets from metadata whose target is a catalog table (with its catalog primary key)."""
        derived = self.facts.rules.get(spec.name)
        return [Reference(spec.name, column, target, self.specs[target].primary_key)
                for column, target in (derived.references if derived else ()) if target in self.specs]

    def references(self, spec: TableSpec, facts: TableFacts) -> None:
        q = self.facts.quote
        seen: set[str] = set()
        for ref in [*REFERENCES, *self.metadata_references(spec)]:
            if self.name(ref.table) != spec.name or self.name(ref.column) in seen:
                continue
            column, parent, parent_key = self.name(ref.column), self.name(ref.parent), self.name(ref.parent_key)
            seen.add(column)
            lookup = self.name(ref.lookup)
            parent_facts = self.facts.tables.get(parent)
            if column not in facts.columns:
                self.plan.notes.append(f"{spec.name}.references.{lookup}: the warehouse table has no column {column}")
                continue
            if parent_facts is None or parent_facts.last_sync_at is None:
                self.plan.notes.append(f"{spec.name}.references.{lookup}: parent table {parent} is not loaded")
                continue
            live = f" AND p.{q('_deleted_at')} IS NULL" if "_deleted_at" in parent_facts.columns else ""
            query = (f"SELECT b.{q(spec.primary_key)}, b.{q(column)} FROM {{batch}} b "
                     f"LEFT JOIN {self.facts.table_ref(parent)} p ON p.{q(parent_key)} = b.{q(column)}{live} "
                     f"WHERE b.{q(column)} IS NOT NULL AND p.{q(parent_key)} IS NULL")
            self.add(spec, spec.name, "references", lookup, column=column, asset=spec.name, group=QUERIES,
                     expectation="UnexpectedRowsExpectation", kwargs={"unexpected_rows_query": query},
                     description=f"Every {column} points at a live {parent} row", parent=parent)

    def option_domains(self, spec: TableSpec, facts: TableFacts) -> None:
        known = (self.settings.option_domains or {}).get(spec.name, {})
        q = self.facts.quote
        derived = self.facts.rules.get(spec.name)
        for column in dict.fromkeys([*spec.option_sets, *(derived.option_sets if derived else ())]):
            if column not in facts.columns:
                continue
            domain = known.get(column)
            if domain:
                values = sorted({int(v) for v in domain})
                self.add(spec, spec.name, "option_domain", column, column=column, asset=spec.name,
                         expectation="ExpectColumnValuesToBeInSet", kwargs={"column": column, "value_set": values},
                         description=f"{column} holds only values of its option set ({len(values)} options)")
                continue
            label = f"{column}_label"
            if label not in facts.columns:
                self.plan.notes.append(f"{spec.name}.option_domain.{column}: no option set known and no {label} "
                                       "column to check")
                continue
            query = (f"SELECT {q(spec.primary_key)}, {q(column)} FROM {{batch}} "
                     f"WHERE {q(column)} IS NOT NULL AND {q(label)} IS NULL")
            self.add(spec, spec.name, "option_domain", column, column=column, asset=spec.name, group=QUERIES,
                     expectation="UnexpectedRowsExpectation", kwargs={"unexpected_rows_query": query},
                     description=f"Every {column} value has a label (the option set is not known here, so a "
                                 "value without a label is unknown)")

    def dates(self, spec: TableSpec, facts: TableFacts) -> None:
        pairs = [(self.name(a), self.name(b)) for t, ps in DATE_PAIRS.items() if self.name(t) == spec.name
                 for a, b in ps]
        for start, end in pairs:
            if start not in facts.columns or end not in facts.columns:
                continue
            self.add(spec, spec.name, "dates", end, column=end, asset=spec.name,
                     expectation="ExpectColumnPairValuesAToBeGreaterThanB",
                     kwargs={"column_A": end, "column_B": start, "or_equal": True,
                             "ignore_row_if": "either_value_is_missing"},
                     description=f"{end} is not before {start}")
        column = BIRTH_DATES.get(spec.name)
        if column and column in facts.columns:
            s, q, today = self.settings, self.facts.quote, self.now.date()
            oldest = _years_before(today, s.birth_max_age_years)
            youngest = _years_before(today, s.birth_min_age_years)
            ident = self.plan.assets[spec.name].index_columns
            query = (f"SELECT {', '.join(q(c) for c in ident)}, {q(column)} FROM {{batch}} "
                     f"WHERE {q(column)} < {self.facts.date_literal(oldest)} "
                     f"OR {q(column)} > {self.facts.date_literal(youngest)}")
            self.add(spec, spec.name, "dates", column, column=column, asset=spec.name, group=QUERIES,
                     expectation="UnexpectedRowsExpectation", kwargs={"unexpected_rows_query": query},
                     description=f"{column} gives an age between {s.birth_min_age_years} and "
                                 f"{s.birth_max_age_years} years")

    # --- across tables -----------------------------------------------------------------------

    def freshness(self, specs: Iterable[TableSpec]) -> None:
        if self.facts.state_table is None:
            self.plan.notes.append("freshness: the warehouse has no sync state table yet (nothing was synced)")
            return
        q = self.facts.quote
        self.plan.assets[STATE_ASSET] = Asset(STATE_ASSET, f"SELECT * FROM {self.facts.ref(self.facts.state_table)}",
                                              ("table_name",))
        cutoff = self.now - timedelta(hours=self.settings.freshness_hours)
        for spec in specs:
            facts = self.facts.tables.get(spec.name)
            if not spec.required and (facts is None or facts.last_sync_at is None):
                continue  # noted by table()
            query = (f"SELECT t.table_name, s.{q('last_sync_at')} FROM (SELECT '{spec.name}' AS table_name) t "
                     f"LEFT JOIN {{batch}} s ON s.{q('table_name')} = t.table_name "
                     f"WHERE s.{q('last_sync_at')} IS NULL OR s.{q('last_sync_at')} < "
                     f"{self.facts.timestamp_literal(cutoff)}")
            self.add(spec, spec.name, "freshness", None, column=None, asset=STATE_ASSET, group=QUERIES,
                     expectation="UnexpectedRowsExpectation", kwargs={"unexpected_rows_query": query},
                     description=f"Last successful sync within {self.settings.freshness_hours:g} hours")

    def mapping(self) -> None:
        """Every mapped worker who is active in HR (eligible as the mapping defines it) has an active
        bookable resource carrying as many characteristics as HR calls for: distinct Actual skills
        plus certificate types with a current certificate (see ``hr_dataverse.urs.rules``)."""
        m = self.settings.mapping
        if self.facts.mapping_table is None:
            self.plan.notes.append(f"mapping: {MAPPING_TABLE} does not exist yet (the URS mapping has not run): "
                                   "mapping completeness not checked")
            return
        missing = [c for c in MAPPING_COLUMNS if c not in self.facts.mapping_columns]
        needed = ["cdm_worker", m.hr_table("hcmworkerskillentity"), m.hr_table("hcmworkercertificateentity")]
        if m.active_employment_only:
            needed.append("cdm_employment")
        unloaded = [t for t in needed if t not in self.facts.tables or self.facts.tables[t].last_sync_at is None]
        if missing or unloaded:
            why = (f"{MAPPING_TABLE} lacks column(s) {', '.join(missing)}" if missing
                   else f"table(s) {', '.join(unloaded)} not loaded")
            self.plan.notes.append(f"mapping: {why}: mapping completeness not checked")
            return
        q, f = self.facts.quote, self.facts
        today = self.now.date()
        tomorrow, today_sql = f.date_literal(today + timedelta(days=1)), f.date_literal(today)
        mapping_ref = f.ref(f.mapping_table)
        self.plan.assets[MAPPING_TABLE] = Asset(MAPPING_TABLE, f"SELECT * FROM {mapping_ref}", ("hr_key",))

        def live(alias: str, table: str) -> str:
            return f" AND {alias}.{q('_deleted_at')} IS NULL" if "_deleted_at" in f.tables[table].columns else ""

        skill_t, cert_t = needed[1], needed[2]
        p = m.hr_prefix
        status = "" if m.active_worker_status is None else f" AND w.{q('cdm_status')} = {int(m.active_worker_status)}"
        employed = ""
        if m.active_employment_only:
            employed = (f" AND EXISTS (SELECT 1 FROM {f.table_ref('cdm_employment')} e "
                        f"WHERE e.{q('_cdm_workerid_value')} = w.{q('cdm_workerid')}{live('e', 'cdm_employment')} "
                        f"AND (e.{q('cdm_employmentstartdate')} IS NULL OR e.{q('cdm_employmentstartdate')} < {tomorrow}) "
                        f"AND (e.{q('cdm_employmentenddate')} IS NULL OR e.{q('cdm_employmentenddate')} >= {today_sql}))")
        expired = "" if m.expired_certificates == "keep" else \
            f" AND (c.{q(p + 'enddate')} IS NULL OR c.{q(p + 'enddate')} >= {today_sql})"
        worker_key = f"CAST(w.{q('cdm_workerid')} AS TEXT)"
        query = (
            f"SELECT r.hr_key AS worker, w.{q('cdm_workernumber')}, r.active AS resource_active, "
            f"COALESCE(have.n, 0) AS characteristics, COALESCE(sk.n, 0) + COALESCE(ce.n, 0) AS expected "
            f"FROM {{batch}} r "
            f"JOIN {f.table_ref('cdm_worker')} w ON {worker_key} = r.hr_key{live('w', 'cdm_worker')}{status}{employed} "
            f"LEFT JOIN (SELECT scope_key, COUNT(*) AS n FROM {mapping_ref} "
            f"WHERE target_table = 'bookableresourcecharacteristic' AND active = TRUE GROUP BY scope_key) have "
            f"ON have.scope_key = r.hr_key "
            f"LEFT JOIN (SELECT CAST(s.{q(f'_{p}fk_worker_id_value')} AS TEXT) AS worker, "
            f"COUNT(DISTINCT s.{q(f'_{p}fk_skill_id_value')}) AS n FROM {f.table_ref(skill_t)} s "
            f"WHERE s.{q(p + 'leveltype')} = {LEVEL_TYPE_ACTUAL}{live('s', skill_t)} GROUP BY 1) sk "
            f"ON sk.worker = r.hr_key "
            f"LEFT JOIN (SELECT CAST(c.{q(f'_{p}fk_worker_id_value')} AS TEXT) AS worker, "
            f"COUNT(DISTINCT c.{q(f'_{p}fk_certificatetype_id_value')}) AS n FROM {f.table_ref(cert_t)} c "
            f"WHERE c.{q(p + 'startdate')} < {tomorrow}{expired}{live('c', cert_t)} GROUP BY 1) ce "
            f"ON ce.worker = r.hr_key "
            f"WHERE r.target_table = 'bookableresource' AND (NOT r.active "
            f"OR COALESCE(have.n, 0) <> COALESCE(sk.n, 0) + COALESCE(ce.n, 0))")
        self.add(None, MAPPING_TABLE, "mapping", None, column=None, asset=MAPPING_TABLE, group=QUERIES,
                 expectation="UnexpectedRowsExpectation", kwargs={"unexpected_rows_query": query},
                 description="Every mapped active worker has an active bookable resource with as many "
                             "characteristics as HR calls for (Actual skills + current certificates)")


def build_plan(catalog: Catalog | Iterable[TableSpec], facts: WarehouseFacts, settings: QualitySettings,
               now: datetime, tables: Iterable[str] | None = None) -> Plan:
    """The checks for ``catalog`` against a warehouse described by ``facts``; ``tables`` limits them to
    those catalog tables (the URS mapping check runs when ``_hr_urs_mapping`` is among them, or always
    without a limit)."""
    specs = list(catalog)
    every = {s.name: s for s in specs}
    with_mapping = tables is None
    if tables is not None:
        wanted = set(tables)
        with_mapping = MAPPING_TABLE in wanted
        unknown = sorted(wanted - {s.name for s in specs} - {MAPPING_TABLE})
        if unknown:
            raise ValueError(f"unknown table(s) {', '.join(unknown)}; the catalog has: "
                             f"{', '.join(s.name for s in specs)} (and {MAPPING_TABLE})")
        specs = [s for s in specs if s.name in wanted]
    builder = _Builder(facts, settings, now)
    builder.specs = every
    for spec in specs:
        builder.table(spec)
    if specs:
        builder.freshness(specs)
    if with_mapping:
        builder.mapping()
    for key in unused_overrides(settings.severity, builder.candidates):
        builder.plan.notes.append(f"severity override {key!r} matches no check (check ids look like "
                                  "'cdm_worker.not_null.cdm_workernumber')")
    return builder.plan


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
