"""``SlotPool``: the Airflow pool the DAG's load tasks share, for threads in one process.

A task takes its slots for its whole run. Waiting tasks start in priority order as soon as their
slots are free, and a task that fits may pass an earlier one that does not: what Airflow's
scheduler does with pool slots (it queues the tasks that fit, in priority-weight order).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SlotPool:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one slot, got {size}")
        self.size = size
        self.free = size
        self.peak = 0
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int, object]] = []  # (priority, slots, ticket), sorted

    @contextmanager
    def hold(self, slots: int, priority: int) -> Iterator[None]:
        """Wait for ``slots`` slots (lower ``priority`` first among tasks that fit), hold them inside."""
        if not 1 <= slots <= self.size:
            raise ValueError(f"a task needs between 1 and {self.size} slots of this pool, got {slots}")
        ticket = object()
        with self._cond:
            self._waiting.append((priority, slots, ticket))
            self._waiting.sort(key=lambda w: w[0])
            while self._next_to_start() is not ticket:
                self._cond.wait()
            self._waiting = [w for w in self._waiting if w[2] is not ticket]
            self.free -= slots
            self.peak = max(self.peak, self.size - self.free)
            self._cond.notify_all()  # another waiter may fit in what is left
        try:
            yield
        finally:
            with self._cond:
                self.free += slots
                self._cond.notify_all()

    def _next_to_start(self) -> object | None:
        return next((ticket for _, slots, ticket in self._waiting if slots <= self.free), None)
