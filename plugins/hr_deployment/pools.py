"""The Airflow pool that bounds concurrent requests to Dataverse across every task and DAG run.

Dataverse's service protection limits concurrent requests per application user (52 by default,
25 on the HR service) and each response suggests a degree of parallelism in ``x-ms-dop-hint``
(the ``hr_connection_check`` DAG's token validation reports it). Size the pool to the smaller of
the connection's ``max_concurrency`` and that hint::

    airflow pools set dataverse_api 5 "Concurrent Dataverse Web API requests (x-ms-dop-hint)"

Each load task holds as many slots as requests it can have in flight: one for a table read page
by page, :func:`partition_slots` for a large table (catalog ``partition_by_key``; more than one
slot reads it as key ranges in parallel). The change probe holds :func:`probe_slots` (its probes
in flight). The pool must have at least the larger of the two, or those tasks never start.

No Airflow import here: ``make demo`` sizes the pool with these functions before Airflow starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hr_dataverse.defaults import DEFAULT_MAX_CONCURRENCY  # the connection's default max_concurrency

DATAVERSE_POOL = "dataverse_api"
POOL_DESCRIPTION = "Concurrent Dataverse Web API requests of the HR sync (min of max_concurrency and x-ms-dop-hint)"
PARTITION_SLOTS_ENV = "HR_DATAVERSE_PARTITION_SLOTS"
PROBE_SLOTS_ENV = "HR_DATAVERSE_PROBE_SLOTS"
# One tracked read. Since the baseline reads every column (a delta link keeps its $select), key ranges
# beside it read the table a second time: 100k bench, quiet machine, 11.0 s / 130 requests with 1 slot,
# 14.2 s / 138 with 3.
DEFAULT_PARTITION_SLOTS = 1
# The quiet scheduled run's one-row probes, one per tracked table: 3 in flight keep ~35 probes near 1 s.
DEFAULT_PROBE_SLOTS = 3


def _slots(name: str, default: int, environ: Mapping[str, str] | None) -> int:
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        slots = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if slots < 1:
        raise ValueError(f"{name} must be at least 1, got {slots}")
    return slots


def partition_slots(environ: Mapping[str, str] | None = None) -> int:
    """Slots (= parallel requests) of one large-table load: ``$HR_DATAVERSE_PARTITION_SLOTS``, default 1
    (one change-tracking read; 2 or more read key ranges beside it). Read when the DAG file is parsed; a bad value is a ``ValueError`` naming the variable."""
    return _slots(PARTITION_SLOTS_ENV, DEFAULT_PARTITION_SLOTS, environ)


def probe_slots(environ: Mapping[str, str] | None = None) -> int:
    """Slots (= probes in flight) of the change probe: ``$HR_DATAVERSE_PROBE_SLOTS``, default 3. Read
    when the DAG file is parsed; a bad value is a ``ValueError`` naming the variable."""
    return _slots(PROBE_SLOTS_ENV, DEFAULT_PROBE_SLOTS, environ)


def task_slots(environ: Mapping[str, str] | None = None) -> int:
    """The most slots one task of the sync holds: a large-table load or the change probe."""
    return max(partition_slots(environ), probe_slots(environ))


def pool_size(max_concurrency: int, dop_hint: int | None, *, min_slots: int | None = None) -> int:
    """Pool slots for a connection: ``min(max_concurrency, dop_hint)``, but never fewer than the
    largest task holds (``min_slots``, default :func:`task_slots`)."""
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    budget = min(max_concurrency, dop_hint) if dop_hint else max_concurrency
    return max(budget, task_slots() if min_slots is None else min_slots)


POOL_SLOTS_ENV = "HR_DATAVERSE_POOL_SLOTS"
MAX_CONCURRENCY_ENV = "HR_DATAVERSE_MAX_CONCURRENCY"
DOP_HINT_ENV = "HR_DATAVERSE_DOP_HINT"


def configured_pool_size(environ: dict[str, str] | None = None, *, max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
                         dop_hint: int | None = None) -> int:
    """The pool size a deployment asked for: ``$HR_DATAVERSE_POOL_SLOTS`` when set, else
    :func:`pool_size` of ``$HR_DATAVERSE_MAX_CONCURRENCY`` and ``$HR_DATAVERSE_DOP_HINT`` (each
    falling back to the keyword argument). What ``airflow-init``, ``make demo`` and ``make stack`` apply."""
    env = os.environ if environ is None else environ

    def number(name: str, fallback: int | None) -> int | None:
        raw = (env.get(name) or "").strip()
        if not raw:
            return fallback
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None

    needed = task_slots(env)
    explicit = number(POOL_SLOTS_ENV, None)
    if explicit is not None:
        if explicit < needed:
            raise ValueError(f"{POOL_SLOTS_ENV}={explicit} is below the {needed} slots one sync task holds "
                             f"({PARTITION_SLOTS_ENV}={partition_slots(env)}, {PROBE_SLOTS_ENV}={probe_slots(env)}); "
                             "that task would never start")
        return explicit
    return pool_size(number(MAX_CONCURRENCY_ENV, max_concurrency) or max_concurrency, number(DOP_HINT_ENV, dop_hint),
                     min_slots=needed)
