"""The Airflow pool that bounds concurrent requests to Dataverse across every task and DAG run.

Dataverse's service protection limits concurrent requests per application user (52 by default,
25 on the HR service) and each response suggests a degree of parallelism in ``x-ms-dop-hint``
(the ``hr_connection_check`` DAG's token validation reports it). Size the pool to the smaller of
the connection's ``max_concurrency`` and that hint::

    airflow pools set dataverse_api 5 "Concurrent Dataverse Web API requests (x-ms-dop-hint)"

Each load task holds as many slots as requests it can have in flight: one for a table read page
by page, :func:`partition_slots` for a large table (catalog ``partition_by_key``) read as key
ranges in parallel. The pool must have at least that many slots, or those tasks never start.

No Airflow import here: ``make demo`` sizes the pool with these functions before Airflow starts.
"""

from __future__ import annotations

import os

from hr_dataverse.defaults import DEFAULT_MAX_CONCURRENCY  # the connection's default max_concurrency

DATAVERSE_POOL = "dataverse_api"
POOL_DESCRIPTION = "Concurrent Dataverse Web API requests of the HR sync (min of max_concurrency and x-ms-dop-hint)"
PARTITION_SLOTS_ENV = "HR_DATAVERSE_PARTITION_SLOTS"
# The walk takes one slot; one range reader falls behind it (it also parses every column), two keep up.
DEFAULT_PARTITION_SLOTS = 3


def partition_slots() -> int:
    """Slots (= parallel requests) of one large-table load: ``$HR_DATAVERSE_PARTITION_SLOTS``, default 3.
    Read when the DAG file is parsed; a bad value is a ``ValueError`` naming the variable."""
    raw = os.environ.get(PARTITION_SLOTS_ENV, "").strip()
    if not raw:
        return DEFAULT_PARTITION_SLOTS
    try:
        slots = int(raw)
    except ValueError:
        raise ValueError(f"{PARTITION_SLOTS_ENV} must be a whole number, got {raw!r}") from None
    if slots < 1:
        raise ValueError(f"{PARTITION_SLOTS_ENV} must be at least 1, got {slots}")
    return slots


def pool_size(max_concurrency: int, dop_hint: int | None, *, min_slots: int | None = None) -> int:
    """Pool slots for a connection: ``min(max_concurrency, dop_hint)``, but never fewer than a
    large-table load needs (``min_slots``, default :func:`partition_slots`)."""
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    budget = min(max_concurrency, dop_hint) if dop_hint else max_concurrency
    return max(budget, partition_slots() if min_slots is None else min_slots)


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

    explicit = number(POOL_SLOTS_ENV, None)
    if explicit is not None:
        if explicit < partition_slots():
            raise ValueError(f"{POOL_SLOTS_ENV}={explicit} is below the {partition_slots()} slots a large-table "
                             f"load holds ({PARTITION_SLOTS_ENV}); those loads would never start")
        return explicit
    return pool_size(number(MAX_CONCURRENCY_ENV, max_concurrency) or max_concurrency, number(DOP_HINT_ENV, dop_hint))
