"""Read key-range partitions in parallel threads and hand their pages to one consumer.

Worker threads take ranges from a shared iterator and fetch pages, each request inside a slot of
the ``ConcurrencyBudget``. The iterator may itself read Dataverse to find the next range (the
change-tracking baseline, in ``table_sync``): a worker advances it only between ranges, when it
holds no slot, and one worker at a time, so the budget still bounds every request. Pages go through a queue holding at most one page per worker, so memory stays
bounded however large the table: a worker waits while the consumer (the thread staging into the
warehouse, which owns the only database connection) catches up.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..dataverse import ChangePage
from .budget import ConcurrencyBudget
from .partitions import KeyRange

PageSource = Callable[[KeyRange], Iterator[ChangePage]]
_POLL_S = 0.1


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


def read_partitions(ranges: Iterable[KeyRange], source: PageSource, budget: ConcurrencyBudget) -> Iterator[ChangePage]:
    """Pages of every range, in arrival order. ``source(range)`` yields one range's pages.

    The first worker error is re-raised here after the other workers stopped. Close the generator
    (or exhaust it) to stop the workers early; ``contextlib.closing`` does that on any exit.
    """
    pending = iter(ranges)
    pending_lock = threading.Lock()
    pages: queue.Queue[Any] = queue.Queue(maxsize=max(1, budget.limit))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def next_range() -> KeyRange | None:
        with pending_lock:
            return next(pending, None)

    def work() -> None:
        try:
            while not stop.is_set() and (key_range := next_range()) is not None:
                iterator = source(key_range)
                while not stop.is_set():
                    with budget:  # one request per next(): the budget bounds requests in flight
                        page = next(iterator, None)
                    if page is None or not put(page):
                        break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(_Failed(exc))
        finally:
            put(_DONE)

    workers = [threading.Thread(target=work, name=f"hr-sync-part-{n}", daemon=True)
               for n in range(min(budget.limit, len(ranges)) if isinstance(ranges, list) else budget.limit)]
    for thread in workers:
        thread.start()
    try:
        running = len(workers)
        while running:
            item = pages.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, _Failed):
                raise item.error
            else:
                yield item
    finally:
        stop.set()
        for thread in workers:
            while thread.is_alive():
                _drain(pages)
                thread.join(_POLL_S)


def _drain(pages: queue.Queue[Any]) -> None:
    while True:
        try:
            pages.get_nowait()
        except queue.Empty:
            return
