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
    # UNCONFIRMED: Dataverse tokens are v1 (iss https://sts.windows.net/{tid}/); configurable.
    token_issuer_template: str = "https://sts.windows.net/{tenant_id}/"

    # Dataverse behaviour
    dop_hint: int = 5  # x-ms-dop-hint on responses (UNCONFIRMED typical value; a setting)
    max_page_size: int = 5000
    count_cap: int = 5000
    change_tracking_retention_days: float = 7.0
    max_batch_parts: int = 1000
    # Realistic mess in the default data set
    tables_without_change_tracking: tuple[str, ...] = ("cdm_workeraddress",)
    unreadable_tables: tuple[str, ...] = ("cdm_workerpersonaldetail",)
    # UNCONFIRMED: logical name / nav property of the Worker lookup on bookableresource.
    bookableresource_worker_column: str = "cdm_workerid"
    bookableresource_worker_navigation: str = "cdm_WorkerId"
    # UNCONFIRMED: prefix of the HR virtual tables (mshr_ documented; mserp_ on newer infra).
    hr_virtual_prefix: str = "mshr_"
    # UNCONFIRMED: whether bookableresourcecharacteristic accepts UpsertMultiple (CreateMultiple is listed).
    bookableresourcecharacteristic_upsert_multiple: bool = True

    # Service protection: "default" (6000 req / 20 min exec / 52 concurrent per 300 s),
    # "hr" (500 req / 5 min, 25 concurrent), or "off".
    protection_profile: str = "default"
    # Latency model: a Dataverse request's whole server time, base plus per returned row. The
    # emulator's own work counts toward it (it sleeps only what is left), so its CPU shows only
    # when it is slower than the model.
    latency_ms: float = 0.0
    latency_per_row_ms: float = 0.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Data defects for data-quality tests (see defects.py); each touches defect_rows rows.
    defect_rows: int = 3
    defect_null_required: tuple[str, str] | None = None  # (table, column) left null
    defect_orphan_employment: bool = False  # employments pointing at workers that do not exist
    defect_duplicate_business_key: tuple[str, str] | None = None  # (table, column) with repeated values
    defect_unknown_option: tuple[str, str] | None = None  # (table, column) with a value outside its option set
    defect_partial_table: str | None = None  # table served only partly while counts include every row

    def __post_init__(self) -> None:
        self.tenant_id = self.tenant_id or stable_uuid(self.seed, "tenant")
        self.client_id = self.client_id or stable_uuid(self.seed, "client")
        self.client_secret_id = self.client_secret_id or stable_uuid(self.seed, "secret-id")
        # A secret value shaped like Entra's (40 chars, with a '~'), distinct from its ID.
        self.client_secret = self.client_secret or (
            "Q8~" + uuid.uuid5(_NS, f"{self.seed}:secret").hex + "aBcD1"
        )[:40]
