"""``ConcurrencyBudget``: how many Dataverse requests one sync task may have in flight at once.

Dataverse's service protection counts concurrent requests per user (52 by default, 25 on the HR
service) and suggests ``x-ms-dop-hint`` as the degree of parallelism. Inside one task every
partition thread takes a slot for each request, so the task never exceeds the budget; across tasks
the DAG uses an Airflow pool of the same size.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..dataverse import DataverseClient


class ConcurrencyBudget:
    """A thread-safe counting limiter: ``with budget:`` holds one slot for the enclosed request.

    ``peak`` records the most slots ever held at once (diagnostics and tests).
    """

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"a concurrency budget needs a limit of at least 1, got {limit!r}")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._in_use = 0
        self.peak = 0

    @classmethod
    def for_client(cls, client: DataverseClient) -> ConcurrencyBudget:
        """``settings.max_concurrency``, lowered to the server's ``x-ms-dop-hint`` once one was seen."""
        limit = client.settings.max_concurrency
        if client.dop_hint:
            limit = min(limit, client.dop_hint)
        return cls(limit)

    def __enter__(self) -> ConcurrencyBudget:
        self._slots.acquire()
        with self._lock:
            self._in_use += 1
            self.peak = max(self.peak, self._in_use)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            self._in_use -= 1
        self._slots.release()

    def __repr__(self) -> str:
        return f"ConcurrencyBudget(limit={self.limit}, in_use={self._in_use}, peak={self.peak})"
