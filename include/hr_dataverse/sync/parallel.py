"""Fetch pages in threads and hand them to one consumer: key-range partitions in parallel
(``read_partitions``), or one sequential read a page ahead of its consumer (``read_ahead``).

Worker threads take ranges from a queue and fetch pages, each request inside a slot of the
``ConcurrencyBudget``. One more thread fills the queue from the ranges iterator, which may itself
read Dataverse to find the next range (the change-tracking baseline, in ``table_sync``). Pages go through a queue holding at most one page per worker, so memory stays
bounded however large the table: a worker waits while the consumer (the thread staging into the
warehouse, which owns the only database connection) catches up.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, TypeVar

from ..dataverse import ChangePage
from .budget import ConcurrencyBudget
from .partitions import KeyRange

PageSource = Callable[[KeyRange], Iterator[ChangePage]]
T = TypeVar("T")
_POLL_S = 0.1


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


def read_partitions(ranges: Iterable[KeyRange], source: PageSource, budget: ConcurrencyBudget, *,
                    ranges_read_dataverse: bool = False) -> Iterator[ChangePage]:
    """Pages of every range, in arrival order. ``source(range)`` yields one range's pages.

    A thread of its own walks ``ranges``. Set ``ranges_read_dataverse`` when walking them sends
    requests (the change-tracking baseline, a budget slot per request): the walk then never waits
    for a data worker, and the data workers get one slot fewer.

    The first error (worker or walk) is re-raised here after the other threads stopped. Close the
    generator (or exhaust it) to stop them early; ``contextlib.closing`` does that on any exit.
    """
    pages: queue.Queue[Any] = queue.Queue(maxsize=max(1, budget.limit))
    todo: queue.Queue[KeyRange | None] = queue.Queue()  # ranges are two keys each: unbounded is fine
    stop = threading.Event()
    count = budget.limit - 1 if ranges_read_dataverse else budget.limit
    if isinstance(ranges, list):
        count = min(count, len(ranges))
    count = max(1, count)

    def put(item: Any) -> bool:
        return _put(pages, item, stop)

    def walk() -> None:
        try:
            for key_range in ranges:
                if stop.is_set():
                    break
                todo.put(key_range)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(_Failed(exc))
        finally:
            for _ in range(count):
                todo.put(None)
            put(_DONE)

    def next_range() -> KeyRange | None:
        while not stop.is_set():
            try:
                return todo.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return None

    def work() -> None:
        try:
            while (key_range := next_range()) is not None:
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

    threads = [threading.Thread(target=walk, name="hr-sync-ranges", daemon=True)]
    threads += [threading.Thread(target=work, name=f"hr-sync-part-{n}", daemon=True) for n in range(count)]
    yield from _consume(pages, threads, stop)


def read_ahead(pages: Iterator[T]) -> Iterator[T]:
    """``pages``, fetched one ahead of the consumer by a thread of their own.

    A sequential read (change-tracking initial or delta read, plain read) otherwise pays each page
    twice in a row: the server's time to answer it, then the client's time to stage it. Fetching
    page N+1 while page N is staged costs, per page, the slower of the two. Requests stay one at a
    time (``pages`` is advanced by one thread only), and at most two pages are held: the one being
    staged and the one being fetched. Errors are re-raised here in order, after the pages before
    them. Close the generator (``contextlib.closing``) to stop the thread; it closes ``pages``.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=1)
    room = threading.Semaphore(2)  # pages alive: the consumer's and the one being fetched
    stop = threading.Event()

    def fetch() -> None:
        try:
            while True:
                while not room.acquire(timeout=_POLL_S):
                    if stop.is_set():
                        return
                item = next(pages, _DONE)
                if not _put(handoff, item, stop) or item is _DONE:
                    return
                del item  # handed over: this thread must not keep a page alive while it reads the next
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            _put(handoff, _Failed(exc), stop)
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=fetch, name="hr-sync-read-ahead", daemon=True)
    with closing(_consume(handoff, [thread], stop)) as items:  # closed with this generator
        for item in items:
            yield item
            del item  # the consumer is done with this page: nothing here keeps it alive any more
            room.release()  # and the next but one may be fetched


def _consume(items: queue.Queue[Any], threads: list[threading.Thread], stop: threading.Event) -> Iterator[Any]:
    """Start ``threads`` and yield what they hand over until each sent ``_DONE``; the first
    ``_Failed`` is raised. However it ends (exhausted, raised, closed), the threads are stopped
    (``stop``) and joined, draining ``items`` so none stays blocked on a full queue."""
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            item = items.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, _Failed):
                raise item.error
            else:
                yield item
            del item  # not held while waiting for the next item
    finally:
        stop.set()
        for thread in threads:
            while thread.is_alive():
                _drain(items)
                thread.join(_POLL_S)


def _put(pages: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Hand ``item`` over unless ``stop`` is set first; False when it was not handed over."""
    while not stop.is_set():
        try:
            pages.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _drain(pages: queue.Queue[Any]) -> None:
    while True:
        try:
            pages.get_nowait()
        except queue.Empty:
            return
