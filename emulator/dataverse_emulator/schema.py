"""HR + URS table definitions: logical/entity-set names, columns, types, option sets, lookups.

Facts come from shared/reference/hr-urs-data-model.md. Names tagged [I] (inferred) or [U]
(unconfirmed) there are best guesses and noted in a comment where they are used; the ones that
matter most (worker lookup on bookableresource, HR virtual-table prefix) are EmulatorConfig settings.

Value representation inside a row (the Web API serialises these as-is):
- DateTime: ``"YYYY-MM-DDTHH:MM:SSZ"`` UTC string (what Dataverse returns); date-only columns
  (``date_only=True``) hold ``"YYYY-MM-DD"``. Both sort correctly as strings.
- Lookup: target GUID string under the lookup's logical name (wire name ``_<name>_value``).
- Picklist/State/Status: int; Boolean: bool; Integer/BigInt: int; Decimal/Double/Money: float.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from .config import EmulatorConfig

# Dataverse AttributeType names used in metadata.
STRING = "String"
MEMO = "Memo"
INTEGER = "Integer"
BIGINT = "BigInt"
DECIMAL = "Decimal"
DOUBLE = "Double"
MONEY = "Money"
BOOLEAN = "Boolean"
DATETIME = "DateTime"
LOOKUP = "Lookup"
PICKLIST = "Picklist"
STATE = "State"
STATUS = "Status"
UNIQUEIDENTIFIER = "Uniqueidentifier"
ATTRIBUTE_TYPES = frozenset(
    {STRING, MEMO, INTEGER, BIGINT, DECIMAL, DOUBLE, MONEY, BOOLEAN, DATETIME, LOOKUP, PICKLIST, STATE,
     STATUS, UNIQUEIDENTIFIER}
)
OPTION_TYPES = frozenset({PICKLIST, STATE, STATUS, BOOLEAN})
# The OData (EDM) type of each AttributeType: $metadata's property types and write-conversion errors.
EDM_TYPES = {
    STRING: "Edm.String", MEMO: "Edm.String", INTEGER: "Edm.Int32", BIGINT: "Edm.Int64",
    DECIMAL: "Edm.Decimal", DOUBLE: "Edm.Double", MONEY: "Edm.Decimal", BOOLEAN: "Edm.Boolean",
    DATETIME: "Edm.DateTimeOffset", LOOKUP: "Edm.Guid", PICKLIST: "Edm.Int32", STATE: "Edm.Int32",
    STATUS: "Edm.Int32", UNIQUEIDENTIFIER: "Edm.Guid",
}
BULK_MESSAGES = frozenset({"CreateMultiple", "UpdateMultiple", "UpsertMultiple"})

BOOLEAN_OPTIONS = {0: "No", 1: "Yes"}
STATE_OPTIONS = {0: "Active", 1: "Inactive"}
STATUS_OPTIONS = {1: "Active", 2: "Inactive"}

# HCM Common (cdm_) choices use the 754400000 prefix.
WORKER_TYPE = {754400000: "Employee", 754400001: "Contractor", 754400002: "Volunteer"}  # Volunteer [I]
WORKER_STATUS_ACTIVE = 754400000
WORKER_STATUS_INACTIVE = 754400001  # F&O "pending" and "terminated" both land here
WORKER_STATUS = {WORKER_STATUS_ACTIVE: "Active", WORKER_STATUS_INACTIVE: "Inactive"}  # labels [I]
GENDER = {754400000: "Male", 754400001: "Female", 754400002: "None", 754400003: "Non-specific"}
EMPLOYMENT_WORKER_TYPE = {754400000: "Employee", 754400001: "Contractor"}
ADDRESS_TYPE = {754400000: "Home", 754400001: "Business", 754400002: "Other"}  # values/labels [U]
MARITAL_STATUS = {  # values/labels [U]
    754400000: "None", 754400001: "Single", 754400002: "Married", 754400003: "Divorced",
    754400004: "Widowed", 754400005: "Cohabiting",
}
# HR virtual-table (mshr_) choices use the 200000000 prefix.
NOYES = {200000000: "No", 200000001: "Yes"}
LEVEL_TYPE_ACTUAL = 200000000
LEVEL_TYPE_TARGET = 200000001
LEVEL_TYPE = {LEVEL_TYPE_ACTUAL: "Actual", LEVEL_TYPE_TARGET: "Target"}
# URS system choices.
RESOURCE_TYPE = {
    1: "Generic", 2: "Contact", 3: "User", 4: "Equipment", 5: "Account", 6: "Crew", 7: "Facility", 8: "Pool",
}
CHARACTERISTIC_TYPE = {1: "Skill", 2: "Certification"}

# Tables in load order: parents before children (the warehouse loads in this order too).
HR_TABLES_BASE = (
    "cdm_company", "cdm_department", "cdm_job", "cdm_jobposition", "cdm_worker", "cdm_employment",
    "cdm_positionworkerassignmentmap", "cdm_workeraddress", "cdm_workerpersonaldetail", "cdm_skilltype",
    "{p}hcmratingmodelentity", "{p}hcmratinglevelentity", "{p}hcmskillentity", "{p}hcmcertificatetypeentity",
    "{p}hcmworkerskillentity", "{p}hcmworkercertificateentity",
)
URS_TABLES = ["bookableresource", "characteristic", "ratingmodel", "ratingvalue", "bookableresourcecharacteristic"]


def hr_tables(prefix: str = "mshr_") -> list[str]:
    """HR logical names, parents before children, for a given virtual-table prefix."""
    return [name.format(p=prefix) for name in HR_TABLES_BASE]


HR_TABLES = hr_tables()


def format_datetime(value: datetime) -> str:
    """A datetime the way rows hold it (and Dataverse returns it): UTC, seconds, trailing Z."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_date(value: date) -> str:
    return value.strftime("%Y-%m-%d")


@dataclass(frozen=True, eq=False)
class AttributeDef:
    logical_name: str
    attribute_type: str
    required: bool = False
    max_length: int | None = None
    options: dict[int, str] | None = None
    targets: tuple[str, ...] = ()
    navigation_property: str | None = None
    date_only: bool = False
    secured: bool = False
    min_value: int | float | None = None
    max_value: int | float | None = None
    precision: int | None = None
    is_primary_id: bool = False
    is_primary_name: bool = False
    read_only: bool = False

    def __post_init__(self) -> None:
        if self.attribute_type not in ATTRIBUTE_TYPES:
            raise ValueError(f"{self.logical_name}: unknown attribute type {self.attribute_type!r}")

    @property
    def is_lookup(self) -> bool:
        return self.attribute_type == LOOKUP


@dataclass(eq=False)
class TableDef:
    logical_name: str
    entity_set_name: str
    primary_id: str
    primary_name: str
    attributes: dict[str, AttributeDef]
    object_type_code: int
    change_tracking: bool
    can_enable_change_tracking: bool = True
    is_virtual: bool = False
    display_name: str = ""
    alternate_keys: tuple[tuple[str, ...], ...] = ()
    bulk_messages: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        self._by_wire = {self.wire_name(a): a for a in self.attributes.values()}
        self._by_nav = {a.navigation_property: a for a in self.attributes.values() if a.navigation_property}

    def wire_name(self, attr: AttributeDef | str) -> str:
        """Property name on the wire: ``_x_value`` for a lookup, else the logical name."""
        a = self.attributes[attr] if isinstance(attr, str) else attr
        return f"_{a.logical_name}_value" if a.is_lookup else a.logical_name

    def attribute_for_wire(self, name: str) -> AttributeDef | None:
        """Attribute behind a wire property name; None for unknown names and bare lookup names
        (Dataverse rejects ``$select=cdm_workerid``; only ``_cdm_workerid_value`` is a property)."""
        return self._by_wire.get(name)

    def attribute_for_navigation(self, nav: str) -> AttributeDef | None:
        """Lookup behind a (case-sensitive) single-valued navigation property, for @odata.bind."""
        return self._by_nav.get(nav)

    def lookups(self) -> list[AttributeDef]:
        return [a for a in self.attributes.values() if a.is_lookup]

    def option_label(self, attr: str, value: object) -> str | None:
        """Label of a choice/boolean value, or None when the column has no options or value is unknown."""
        options = self.attributes[attr].options
        if options is None or value is None:
            return None
        return options.get(int(value))  # bool -> 0/1


# --- column builders (keep the table list below readable) ---------------------------------------


def _s(name: str, max_length: int = 100, **kw) -> AttributeDef:
    return AttributeDef(name, STRING, max_length=max_length, **kw)


def _memo(name: str, max_length: int = 2000, **kw) -> AttributeDef:
    return AttributeDef(name, MEMO, max_length=max_length, **kw)


def _int(name: str, lo: int = -2147483648, hi: int = 2147483647, **kw) -> AttributeDef:
    return AttributeDef(name, INTEGER, min_value=lo, max_value=hi, **kw)


def _dec(name: str, precision: int = 2, **kw) -> AttributeDef:
    return AttributeDef(name, DECIMAL, precision=precision, **kw)


def _bool(name: str, **kw) -> AttributeDef:
    return AttributeDef(name, BOOLEAN, options=BOOLEAN_OPTIONS, **kw)


def _dt(name: str, **kw) -> AttributeDef:
    return AttributeDef(name, DATETIME, **kw)


def _date(name: str, **kw) -> AttributeDef:
    return AttributeDef(name, DATETIME, date_only=True, **kw)


def _pick(name: str, options: dict[int, str], **kw) -> AttributeDef:
    return AttributeDef(name, PICKLIST, options=options, **kw)


def _lookup(name: str, target: str, nav: str, **kw) -> AttributeDef:
    return AttributeDef(name, LOOKUP, targets=(target,), navigation_property=nav, **kw)


def _table(
    logical_name: str,
    entity_set_name: str,
    primary_name: str,
    columns: Iterable[AttributeDef],
    *,
    otc: int,
    display_name: str,
    config: EmulatorConfig,
    primary_id: str | None = None,
    is_virtual: bool = False,
    alternate_keys: tuple[tuple[str, ...], ...] = (),
    bulk_messages: frozenset[str] = frozenset(),
) -> TableDef:
    pk = primary_id or f"{logical_name}id"
    attrs: dict[str, AttributeDef] = {pk: AttributeDef(pk, UNIQUEIDENTIFIER, is_primary_id=True)}
    for col in columns:
        if col.logical_name == primary_name:
            col = AttributeDef(**{**col.__dict__, "is_primary_name": True})
        attrs[col.logical_name] = col
    if primary_name not in attrs:
        raise ValueError(f"{logical_name}: primary name {primary_name!r} is not a column")
    attrs["statecode"] = AttributeDef("statecode", STATE, required=True, options=STATE_OPTIONS)
    attrs["statuscode"] = AttributeDef("statuscode", STATUS, options=STATUS_OPTIONS)
    attrs["createdon"] = _dt("createdon", read_only=True)
    attrs["modifiedon"] = _dt("modifiedon", read_only=True)
    attrs["versionnumber"] = AttributeDef("versionnumber", BIGINT, read_only=True)
    unknown = set(bulk_messages) - BULK_MESSAGES
    if unknown:
        raise ValueError(f"{logical_name}: unknown bulk messages {sorted(unknown)}")
    return TableDef(
        logical_name=logical_name,
        entity_set_name=entity_set_name,
        primary_id=pk,
        primary_name=primary_name,
        attributes=attrs,
        object_type_code=otc,
        change_tracking=logical_name not in config.tables_without_change_tracking,
        is_virtual=is_virtual,
        display_name=display_name,
        alternate_keys=alternate_keys,
        bulk_messages=frozenset(bulk_messages),
    )


def _hcm_common(config: EmulatorConfig) -> list[TableDef]:
    """HCM Common (cdm_) tables. Object type codes of custom tables are >= 10000 and org-specific;
    these are stable made-up values. Alternate keys mirror the dual-write integration keys [I]."""
    t = lambda *a, **kw: _table(*a, config=config, **kw)  # noqa: E731
    worker = _lookup("cdm_workerid", "cdm_worker", "cdm_WorkerId", required=True)  # nav [I]
    return [
        t("cdm_company", "cdm_companies", "cdm_name", [
            _s("cdm_name", required=True),
            _s("cdm_companycode", max_length=4, required=True),
        ], otc=10010, display_name="Company", alternate_keys=(("cdm_companycode",),)),
        t("cdm_department", "cdm_departments", "cdm_name", [
            _s("cdm_departmentnumber", required=True),
            _s("cdm_name", required=True),
            _memo("cdm_description"),
            _lookup("cdm_parentdepartmentid", "cdm_department", "cdm_ParentDepartmentId"),  # nav [I]
        ], otc=10011, display_name="Department", alternate_keys=(("cdm_departmentnumber",),)),
        t("cdm_job", "cdm_jobs", "cdm_name", [
            _s("cdm_name", required=True),  # the F&O job id
            _s("cdm_description"),
            _memo("cdm_jobdescription"),
            _int("cdm_maximumnumberofpositions", 0),
            # S3/S4 spelling; S13/S19 say cdm_allowedunlimitedpositions [U].
            _bool("cdm_allowunlimitedpositions"),
            _dec("cdm_defaultfulltimeequivalent"),
            _dt("cdm_validfrom", required=True),
            _dt("cdm_validto"),
        ], otc=10012, display_name="Job", alternate_keys=(("cdm_name",),)),
        t("cdm_jobposition", "cdm_jobpositions", "cdm_jobpositionnumber", [  # primary name [U]
            _s("cdm_jobpositionnumber", required=True),
            _s("cdm_description"),
            _lookup("cdm_jobid", "cdm_job", "cdm_JobId", required=True),
            _lookup("cdm_departmentid", "cdm_department", "cdm_DepartmentId"),  # nav [U]
            _lookup("cdm_parentjobpositionid", "cdm_jobposition", "cdm_ParentJobPositionId"),
            _dec("cdm_fulltimeequivalent"),
            _dt("cdm_activation"),
            _dt("cdm_retirement"),
            _dt("cdm_availableforassignment"),
            _dt("cdm_validfrom", required=True),
            _dt("cdm_validto"),
        ], otc=10013, display_name="Job Position", alternate_keys=(("cdm_jobpositionnumber",),)),
        t("cdm_worker", "cdm_workers", "cdm_fullname", [  # primary name [U]
            _s("cdm_workernumber", max_length=25, required=True),
            _s("cdm_firstname"),
            _s("cdm_middlename"),
            _s("cdm_lastname"),
            _s("cdm_fullname", max_length=200),
            _pick("cdm_type", WORKER_TYPE, required=True),
            _pick("cdm_status", WORKER_STATUS, required=True),
            _pick("cdm_gender", GENDER),
            _date("cdm_birthdate"),
            _s("cdm_primaryemailaddress"),
            _s("cdm_primarytelephone", max_length=50),
            _s("cdm_linkedinidentity"),
            _s("cdm_websiteurl", max_length=200),
            _s("cdm_profession"),  # the worker's job title as HR shows it
            _s("cdm_officegraphidentifier"),
        ], otc=10014, display_name="Worker", alternate_keys=(("cdm_workernumber",),)),
        t("cdm_employment", "cdm_employments", "cdm_employmentnumber", [  # pk [I], primary name [U]
            _s("cdm_employmentnumber", required=True),
            worker,
            _lookup("cdm_companyid", "cdm_company", "cdm_CompanyId", required=True),  # nav [I]
            _pick("cdm_workertype", EMPLOYMENT_WORKER_TYPE, required=True),
            _dt("cdm_employmentstartdate"),
            _dt("cdm_employmentenddate"),
            _dt("cdm_validfrom", required=True),
            _dt("cdm_validto"),
            _dt("cdm_lastdateworked"),
            _dt("cdm_probationenddate"),
            _dec("cdm_employernoticeamount"),
            _dec("cdm_workernoticeamount"),
        ], otc=10015, display_name="Employment",
            alternate_keys=(("cdm_employmentstartdate", "cdm_workerid", "cdm_companyid"),)),
        t("cdm_positionworkerassignmentmap", "cdm_positionworkerassignmentmaps", "cdm_name", [
            _s("cdm_name", required=True),  # "Position Worker Assignment Number"; logical name [U]
            worker,
            _lookup("cdm_jobpositionid", "cdm_jobposition", "cdm_JobPositionId", required=True),
            _dt("cdm_validfrom", required=True),
            _dt("cdm_validto"),
            _bool("cdm_isprimaryposition"),
        ], otc=10016, display_name="Position Worker Assignment",
            alternate_keys=(("cdm_validfrom", "cdm_jobpositionid"),)),
        t("cdm_workeraddress", "cdm_workeraddresses", "cdm_addressnumber", [  # set/pk [I], primary name [U]
            worker,
            _s("cdm_addressnumber", required=True),
            _pick("cdm_addresstype", ADDRESS_TYPE, required=True),
            _s("cdm_line1", max_length=250),
            _s("cdm_city", max_length=80),
            _s("cdm_stateorprovince", max_length=50),
            _s("cdm_postalcode", max_length=20),
            _s("cdm_countryregion", max_length=50),
            _dec("cdm_latitude", precision=6),
            _dec("cdm_longitude", precision=6),
            _bool("cdm_ispreferred"),
            _dt("cdm_effectivedate"),
            _dt("cdm_expirationdate"),
        ], otc=10017, display_name="Worker Address"),
        t("cdm_workerpersonaldetail", "cdm_workerpersonaldetails", "cdm_name", [  # set [I], primary name [U]
            _s("cdm_name"),
            worker,
            _date("cdm_birthdate"),
            _s("cdm_birthcity", secured=True),  # field-security demo: needs a column security profile
            _pick("cdm_gender", GENDER),
            _pick("cdm_maritalstatus", MARITAL_STATUS),
            _int("cdm_numberofdependents", 0, 99),
            _s("cdm_nationalitycountryregion", max_length=50),
            _bool("cdm_isdisabled"),
            _bool("cdm_isfulltimestudent"),
            _s("cdm_education"),
        ], otc=10018, display_name="Worker Personal Detail", alternate_keys=(("cdm_workerid",),)),
        t("cdm_skilltype", "cdm_skilltypes", "cdm_name", [  # set [I]
            _s("cdm_name", required=True),
            _s("cdm_description"),
        ], otc=10019, display_name="Skill Type", alternate_keys=(("cdm_name",),)),
    ]


def _hr_virtual(config: EmulatorConfig) -> list[TableDef]:
    """HR virtual tables. Column names follow the F&O data-entity fields lower-cased [I for the worker
    skill/certificate tables]; lookups are ``<p>fk_<x>_id`` with navigation ``<p>FK_<X>_id`` [I]."""
    p = config.hr_virtual_prefix

    def t(name: str, display: str, otc: int, columns: list[AttributeDef]) -> TableDef:
        logical = f"{p}{name}"
        columns.append(_s(f"{p}primaryfield", max_length=255, read_only=True))
        return _table(logical, f"{logical[:-len('entity')]}entities", f"{p}primaryfield", columns,
                      otc=otc, display_name=display, config=config, is_virtual=True)

    def fk(name: str, target: str, **kw) -> AttributeDef:
        return _lookup(f"{p}fk_{name}_id", target, f"{p}FK_{name.title()}_id", **kw)

    model, level = f"{p}hcmratingmodelentity", f"{p}hcmratinglevelentity"
    skill, certtype = f"{p}hcmskillentity", f"{p}hcmcertificatetypeentity"
    return [
        t("hcmratingmodelentity", "Rating model", 10100, [
            _s(f"{p}ratingmodelid", max_length=20, required=True),
            _s(f"{p}description", max_length=60),
        ]),
        t("hcmratinglevelentity", "Rating level", 10101, [
            _s(f"{p}ratinglevelid", max_length=20, required=True),
            _s(f"{p}ratingmodelid", max_length=20, required=True),
            fk("ratingmodelentity", model),
            _s(f"{p}description", max_length=60, required=True),
            _int(f"{p}factor", 0, 9, required=True),
            _s(f"{p}note", max_length=250),
        ]),
        t("hcmskillentity", "Skill", 10102, [
            _s(f"{p}skillid", max_length=20, required=True),  # mshr_skill vs mshr_skillid [U]
            _s(f"{p}description", max_length=60),
            _s(f"{p}note", max_length=250),
            _s(f"{p}ratingid", max_length=20),
            fk("ratingmodel", model),
            _s(f"{p}skilltypeid", max_length=20),  # = cdm_skilltype.cdm_name
        ]),
        t("hcmcertificatetypeentity", "Certificate type", 10103, [
            _s(f"{p}certificatetype", max_length=20, required=True),
            _s(f"{p}description", max_length=60, required=True),
            _pick(f"{p}requirerenewal", NOYES),
        ]),
        t("hcmworkerskillentity", "Worker skill", 10104, [  # table name [I]
            _s(f"{p}personnelnumber", max_length=25, required=True),
            fk("worker", "cdm_worker"),
            _s(f"{p}skillid", max_length=20, required=True),
            fk("skill", skill),
            _s(f"{p}ratingid", max_length=20, required=True),
            _s(f"{p}levelid", max_length=20),
            fk("ratinglevel", level),
            _pick(f"{p}leveltype", LEVEL_TYPE, required=True),
            _dt(f"{p}leveldate", required=True),
            _dec(f"{p}yearsofexperience", precision=1),
            _pick(f"{p}verified", NOYES),
        ]),
        t("hcmworkercertificateentity", "Worker certificate", 10105, [  # table name [I]
            _s(f"{p}personnelnumber", max_length=25, required=True),
            fk("worker", "cdm_worker"),
            _s(f"{p}certificatetypeid", max_length=20, required=True),
            fk("certificatetype", certtype),
            _dt(f"{p}startdate", required=True),
            _dt(f"{p}enddate"),  # expiry; null = never expires
            _memo(f"{p}notes", max_length=1000),
        ]),
    ]


def _urs(config: EmulatorConfig) -> list[TableDef]:
    """URS tables (system tables; object type codes [I]). They support CreateMultiple/UpdateMultiple;
    UpsertMultiple on bookableresourcecharacteristic is UNCONFIRMED, hence
    ``config.bookableresourcecharacteristic_upsert_multiple`` (default True)."""
    t = lambda *a, **kw: _table(*a, config=config, **kw)  # noqa: E731
    bulk = frozenset({"CreateMultiple", "UpdateMultiple"})
    brc_bulk = bulk | {"UpsertMultiple"} if config.bookableresourcecharacteristic_upsert_multiple else bulk
    name = _s("name", required=True)
    return [
        t("bookableresource", "bookableresources", "name", [
            name,
            _pick("resourcetype", RESOURCE_TYPE, required=True),
            _int("timezone", -1500, 1500, required=True),
            _lookup("userid", "systemuser", "UserId"),
            _lookup("contactid", "contact", "ContactId"),
            _lookup("accountid", "account", "AccountId"),
            # Added by the HR-to-URS integration; logical name/nav are settings [U].
            _lookup(config.bookableresource_worker_column, "cdm_worker",
                    config.bookableresource_worker_navigation),
        ], otc=1150, display_name="Bookable Resource", bulk_messages=bulk),
        t("characteristic", "characteristics", "name", [
            name,
            _pick("characteristictype", CHARACTERISTIC_TYPE, required=True),
            _s("description"),
        ], otc=1141, display_name="Characteristic", bulk_messages=bulk),
        t("ratingmodel", "ratingmodels", "name", [
            name,
            _int("minratingvalue", -200, 200, required=True),
            _int("maxratingvalue", -200, 200, required=True),
        ], otc=1144, display_name="Rating Model", bulk_messages=bulk),
        t("ratingvalue", "ratingvalues", "name", [
            name,
            _int("value", -200, 200, required=True),
            _lookup("ratingmodel", "ratingmodel", "RatingModel", required=True),
        ], otc=1142, display_name="Rating Value", bulk_messages=bulk),
        t("bookableresourcecharacteristic", "bookableresourcecharacteristics", "name", [
            _s("name"),
            _lookup("resource", "bookableresource", "Resource", required=True),
            _lookup("characteristic", "characteristic", "Characteristic", required=True),
            _lookup("ratingvalue", "ratingvalue", "RatingValue"),
        ], otc=1149, display_name="Bookable Resource Characteristic", bulk_messages=brc_bulk),
    ]


def build_schema(config: EmulatorConfig) -> dict[str, TableDef]:
    """All emulated tables keyed by logical name: HR tables (parents first), URS tables, then the
    compensation, benefits and leave tables (``schema_coverage``)."""
    from .schema_coverage import coverage_tables

    coverage = coverage_tables(config) if config.coverage_tables else []
    tables = _hcm_common(config) + _hr_virtual(config) + _urs(config) + coverage
    schema = {t.logical_name: t for t in tables}
    for table in tables:  # guard against typos in lookup targets among emulated tables
        for attr in table.lookups():
            if attr.targets[0].startswith(("cdm_", config.hr_virtual_prefix)) and attr.targets[0] not in schema:
                raise ValueError(f"{table.logical_name}.{attr.logical_name} targets unknown {attr.targets[0]}")
    return schema
