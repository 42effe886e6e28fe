"""Benchmark settings: every knob of ``make bench`` in one frozen dataclass."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hr_deployment.pools import DEFAULT_PARTITION_SLOTS  # no Airflow import: the DAG's default

# Rows per HR worker over the emulator's tables (datagen: ≈12, of which ≈11 in readable catalog
# tables); the worker scale is the requested row count divided by this.
ROWS_PER_WORKER = 12
# peer-*: Microsoft's SDK, one table at a time / pool_slots tables at a time (no change tracking, no
# warehouse); nochange: a delta right after the delta, nothing changed in between.
PEER_KINDS = ("peer-sequential", "peer-parallel")
LOADER_KINDS = ("sequential", "full", "delta", "nochange")
RUN_KINDS = PEER_KINDS + LOADER_KINDS
INCREMENTAL_KINDS = ("delta", "nochange")
BACKENDS = ("sqlite", "postgres")
DEFAULT_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")  # the schema is dropped by name before each run


@dataclass(frozen=True)
class BenchSettings:
    """What one ``python -m bench.run`` measures.

    Concurrency: the loading process runs the DAG's structure, a pool of ``pool_slots`` (the
    ``dataverse_api`` Airflow pool) that every table load takes slots from: one for a table read
    page by page, ``partition_slots`` for a catalog ``partition_by_key`` table (read as key ranges
    when more than one).
    ``pool_slots`` defaults to ``min(max_concurrency, dop_hint)``, the sizing ``pools.py`` documents;
    it is also the concurrency the floor divides by. A large table gets at most the whole pool.

    ``dop_hint`` 5 is the emulator's default ``x-ms-dop-hint`` (the real value varies by environment,
    UNCONFIRMED typical value). It is also close to what the *execution-time* limit allows over time:
    1,200 s of server time per 300 s window is 4 requests in flight on average; the 52-concurrent
    limit only bounds bursts. ``max_concurrency`` 8 leaves the hint in charge.
    """

    rows: int = 1_000_000
    backends: tuple[str, ...] = BACKENDS
    runs: tuple[str, ...] = RUN_KINDS
    latency_ms: float = 150.0
    latency_per_row_ms: float = 0.1
    protection: str = "default"
    dop_hint: int = 5
    max_concurrency: int = 8
    pool: int | None = None  # None: min(max_concurrency, dop_hint)
    # HR_DATAVERSE_PARTITION_SLOTS, the DAG's default (1): a large table is one change-tracking read on
    # one slot. With 2 or more its baseline walks the keys one page at a time on one slot and the others
    # read each walked page's key range with every column; the rest of the pool serves the other tables.
    partition_slots: int = DEFAULT_PARTITION_SLOTS
    # Tables the emulator serves without change tracking. Default none: the set-up the connection
    # check asks for ("turn on Track changes"). The emulator's own default leaves cdm_workeraddress
    # untracked (realistic mess); ``--untracked cdm_workeraddress`` measures what that costs a delta.
    untracked: tuple[str, ...] = ()
    fault_429: float = 0.0  # share of requests the emulator answers 429 + Retry-After (throttling test)
    change_fraction: float = 0.01
    delete_share: float = 0.2
    seed: int = 42
    out_dir: Path = field(default_factory=lambda: Path(".bench"))
    chart_copy_dir: Path | None = field(default_factory=lambda: Path("docs/bench"))
    postgres_url: str = DEFAULT_POSTGRES_URL
    postgres_schema: str = "hr_bench"
    profile: bool = False  # py-spy the loader and the emulator during each run
    peer_venv: Path = field(default_factory=lambda: Path(".bench/peer-venv"))  # created on first peer run
    # MALLOC_ARENA_MAX of the loading process. glibc gives threads their own malloc arenas (up to 8
    # per core) and keeps freed page buffers in each, so a process loading many tables in threads
    # holds far more RSS than it uses (100k rows: 246 MB with glibc's default, 170 MB with 2).
    # 0 leaves glibc's default.
    malloc_arena_max: int = 2

    def __post_init__(self) -> None:
        problems = []
        if self.rows < ROWS_PER_WORKER:
            problems.append(f"rows must be at least {ROWS_PER_WORKER} (one HR worker), got {self.rows}")
        unknown = [b for b in self.backends if b not in BACKENDS]
        if unknown or not self.backends:
            problems.append(f"backends must be among {', '.join(BACKENDS)}, got {' '.join(self.backends) or 'none'}")
        bad_runs = [r for r in self.runs if r not in RUN_KINDS]
        if bad_runs or not self.runs:
            problems.append(f"runs must be among {', '.join(RUN_KINDS)}, got {' '.join(self.runs) or 'none'}")
        elif next((r for r in self.runs if r in LOADER_KINDS), "full") in INCREMENTAL_KINDS:
            problems.append("the delta run needs a full or sequential run before it (e.g. runs 'full delta')")
        for name in ("dop_hint", "max_concurrency"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.pool is not None and self.pool < 1:
            problems.append(f"pool must be at least 1, got {self.pool}")
        if self.partition_slots < 1 or self.malloc_arena_max < 0:
            problems.append("partition_slots must be at least 1 and malloc_arena_max at least 0")
        if not 0 < self.change_fraction <= 1 or not 0 <= self.delete_share <= 1:
            problems.append("change_fraction must be in (0, 1] and delete_share in [0, 1]")
        if not 0 <= self.fault_429 < 1:
            problems.append(f"fault_429 is a share of requests in [0, 1), got {self.fault_429}")
        if self.latency_ms < 0 or self.latency_per_row_ms < 0:
            problems.append("latencies must not be negative")
        if not _IDENTIFIER.match(self.postgres_schema):
            problems.append(f"postgres_schema must be a lower-case identifier, got {self.postgres_schema!r}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def workers(self) -> int:
        """The emulator's ``--scale`` for ``rows``."""
        return max(1, round(self.rows / ROWS_PER_WORKER))

    @property
    def pool_slots(self) -> int:
        return self.pool or min(self.max_concurrency, self.dop_hint)

    @property
    def large_table_slots(self) -> int:
        return min(self.partition_slots, self.pool_slots)
