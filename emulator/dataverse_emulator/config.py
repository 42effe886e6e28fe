"""Every emulator setting in one place. CLI flags and the pytest fixture fill this dataclass.

Settings marked UNCONFIRMED follow the documented best guess in ../shared/reference and are
overridable because the real value could not be verified.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

_NS = uuid.UUID("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")


def stable_uuid(seed: int, name: str) -> str:
    """Deterministic GUID per seed, so a seeded emulator prints the same ids every run."""
    return str(uuid.uuid5(_NS, f"{seed}:{name}"))


@dataclass(frozen=True)
class CloudShape:
    """What a Microsoft cloud's Entra ID shows a client: the v1 issuer host and discovery's cloud fields.
    Issuer hosts: Microsoft Q&A "token issuers for the sovereign clouds"; the discovery values for the
    US Government and China clouds are UNCONFIRMED here (from their published openid-configuration
    as remembered), which is why the client also recognises a cloud by its login host."""

    sts_host: str
    cloud_instance_name: str
    cloud_graph_host_name: str
    msgraph_host: str


CLOUDS = {
    "public": CloudShape("sts.windows.net", "microsoftonline.com", "graph.windows.net", "graph.microsoft.com"),
    "usgov": CloudShape("sts.windows.net", "microsoftonline.us", "graph.windows.net", "graph.microsoft.us"),
    "china": CloudShape("sts.chinacloudapi.cn", "partner.microsoftonline.cn", "graph.chinacloudapi.cn",
                        "microsoftgraph.chinacloudapi.cn"),
}


@dataclass
class FaultConfig:
    """Injected faults, each a probability per Dataverse request (deterministic under the seed)."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_reset: float = 0.0  # connection reset before a response
    rate_truncate: float = 0.0  # body cut short (Content-Length larger than what is sent)
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    retry_after_seconds: int = 1  # Retry-After sent with injected 429/503


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    seed: int = 42
    scale: int = 200  # number of HR workers in the synthetic data set
    api_version: str = "v9.2"
    state_dir: Path = field(default_factory=lambda: Path(".emulator"))  # CA + certs live here
    public_host: str = ""  # the host name clients use when it is not the bind address (a compose service name)

    # Identity (defaults derived from the seed; printed in the ready line)
    tenant_id: str = ""
    tenant_domain: str = "contoso.onmicrosoft.com"
    client_id: str = ""
    client_secret: str = ""
    client_secret_id: str = ""
    secret_expires_in_days: float = 365.0
    token_lifetime_seconds: int = 3599
    # Which Microsoft cloud the emulated Entra ID is (CLOUDS): its v1 token issuer and discovery's
    # cloud_instance_name / graph hosts. Dataverse tokens are v1 (iss https://<sts host>/{tid}/).
    cloud: str = "public"
    token_issuer_template: str | None = None  # None: the cloud's v1 issuer; else e.g. "https://sts.example/{tenant_id}/"
    # Clock skew Dataverse tolerates on access-token exp/nbf (Microsoft.IdentityModel's default ClockSkew
    # is 5 minutes; the exact value Dataverse configures is UNCONFIRMED). 0 expires tokens exactly at exp.
    access_token_leeway_seconds: float = 300.0

    # Dataverse behaviour
    dop_hint: int = 5  # x-ms-dop-hint on responses (UNCONFIRMED typical value; a setting)
    max_page_size: int = 5000
    count_cap: int = 5000
    change_tracking_retention_days: float = 7.0
    max_batch_parts: int = 1000
    # UNCONFIRMED: $top above this is refused (the documented page ceiling is 5000; the real answer to
    # a larger $top could not be verified). 0 turns the refusal off.
    max_top: int = 5000
    # Aggregates ($apply, fetchXml aggregate="true") evaluate at most this many rows (documented: 50,000).
    aggregate_record_limit: int = 50_000
    # RetrieveTotalRecordCount answers from a snapshot (documented: "within the last 24 hours"). The
    # snapshot is taken when the emulator starts and retaken once it is older than this many seconds of
    # emulator clock. 0 = live counts. UNCONFIRMED exact refresh cadence; 24 h is the documented bound.
    record_count_snapshot_max_age_seconds: float = 24 * 3600.0
    # UNCONFIRMED: body of the 401 for an expired token. "error" = the documented error JSON
    # ({"error":{"code":"0x80041d52","message":"The OAuth token has expired"}}); "empty" = no body.
    expired_token_body: str = "error"
    # UNCONFIRMED: Dataverse's answer to a $deltatoken reused with another $select or on another entity
    # set. "refuse" = 400 naming the mismatch; "accept" = serve it (older emulator behaviour).
    delta_token_mismatch: str = "refuse"
    # UNCONFIRMED: statuses for a POST/PATCH/PUT body without a Content-Type (ODataLib's "missing or
    # empty content type header", 400) and with one that is not application/json (415, what ASP.NET
    # answers for an unsupported media type).
    missing_content_type_status: int = 400
    wrong_content_type_status: int = 415
    # Realistic mess in the default data set
    tables_without_change_tracking: tuple[str, ...] = ("cdm_workeraddress",)
    unreadable_tables: tuple[str, ...] = ("cdm_workerpersonaldetail",)
    # UNCONFIRMED: logical name / nav property of the Worker lookup on bookableresource.
    bookableresource_worker_column: str = "cdm_workerid"
    bookableresource_worker_navigation: str = "cdm_WorkerId"
    # UNCONFIRMED: prefix of the HR virtual tables (mshr_ documented; mserp_ on newer infra).
    hr_virtual_prefix: str = "mshr_"
    # Finance and operations OData (fno.py), served under this path of the emulator's host.
    fno_path: str = "/fno"
    # UNCONFIRMED (third-party name, hr-coverage.md R18): the benefit enrollment collection.
    fno_benefit_collection: str = "BenefitsPlanEmployeesV2"
    fno_default_company: str = "USMF"  # what a read without cross-company=true returns
    fno_page_size: int = 10_000  # F&O's server-driven page limit
    fno_throttle_every: int = 0  # every n-th F&O data request answers 429 (0: never)
    fno_retry_after_seconds: int = 1
    fno_truncate_after_pages: int | None = None  # end the nextLink chain early (a short read)
    # Compensation, benefits and leave tables (schema_coverage.py); False: a tenant without them.
    coverage_tables: bool = True
    # Tables that exist but hold no rows (their dual-write map is off).
    empty_tables: tuple[str, ...] = ()
    # UNCONFIRMED: whether bookableresourcecharacteristic accepts UpsertMultiple (CreateMultiple is listed).
    bookableresourcecharacteristic_upsert_multiple: bool = True
    # Tenant variants (tenant.py): what a real environment may lack. Defaults: everything installed.
    urs_installed: bool = True  # False: no Universal Resource Scheduling tables (Scheduling solution absent)
    hr_virtual_tables: bool = True  # False: no HR virtual tables (mshr_), an HR-only tenant
    bookableresource_worker_lookup: bool = True  # False: bookableresource lacks the Worker lookup
    withheld_privileges: tuple[str, ...] = ()  # privilege names (prvCreatecharacteristic) the app user's role lacks

    # Service protection: "default" (6000 req / 20 min exec / 52 concurrent per 300 s),
    # "hr" (500 req / 5 min, 25 concurrent), or "off".
    protection_profile: str = "default"
    # Latency model: a Dataverse request's whole server time, base plus per returned row. The
    # emulator's own work counts toward it (it sleeps only what is left), so its CPU shows only
    # when it is slower than the model.
    latency_ms: float = 0.0
    latency_per_row_ms: float = 0.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Faults of the Entra token endpoint (v1 and v2): 429/500/503 with Entra's error body, slow, reset.
    token_faults: FaultConfig = field(default_factory=FaultConfig)
    # Data defects for data-quality tests (see defects.py); each touches defect_rows rows.
    defect_rows: int = 3
    defect_null_required: tuple[str, str] | None = None  # (table, column) left null
    defect_orphan_employment: bool = False  # employments pointing at workers that do not exist
    defect_duplicate_business_key: tuple[str, str] | None = None  # (table, column) with repeated values
    defect_unknown_option: tuple[str, str] | None = None  # (table, column) with a value outside its option set
    defect_partial_table: str | None = None  # table served only partly while counts include every row

    def __post_init__(self) -> None:
        if self.cloud not in CLOUDS:
            raise ValueError(f"cloud must be one of {', '.join(CLOUDS)}, got {self.cloud!r}")
        self.token_issuer_template = self.token_issuer_template or f"https://{CLOUDS[self.cloud].sts_host}/{{tenant_id}}/"
        for name, allowed in (("expired_token_body", ("error", "empty")), ("delta_token_mismatch", ("refuse", "accept"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        self.tenant_id = self.tenant_id or stable_uuid(self.seed, "tenant")
        self.client_id = self.client_id or stable_uuid(self.seed, "client")
        self.client_secret_id = self.client_secret_id or stable_uuid(self.seed, "secret-id")
        # A secret value shaped like Entra's (40 chars, with a '~'), distinct from its ID.
        self.client_secret = self.client_secret or (
            "Q8~" + uuid.uuid5(_NS, f"{self.seed}:secret").hex + "aBcD1"
        )[:40]
