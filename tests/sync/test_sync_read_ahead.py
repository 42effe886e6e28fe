"""``read_ahead``: the next page is fetched while the consumer stages this one, never more than one
ahead, in order, with errors where they happened and a clean stop when the consumer stops early."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from hr_dataverse.sync.parallel import read_ahead

WAIT_S = 5.0  # generous: only a hang would reach it


class Source:
    """A page source that records how far it ran ahead of the consumer."""

    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages, self.fail_at = pages, fail_at
        self.fetched = 0
        self.consumed = 0
        self.max_ahead = 0
        self.closed = False
        self.threads: set[str] = set()

    def __iter__(self):
        try:
            for n in range(1, self.pages + 1):
                self.threads.add(threading.current_thread().name)
                if n == self.fail_at:
                    raise RuntimeError(f"page {n} failed")
                self.fetched = n
                self.max_ahead = max(self.max_ahead, self.fetched - self.consumed)
                yield n
        finally:
            self.closed = True


def test_pages_arrive_in_order_and_at_most_one_ahead_of_the_consumer():
    source = Source(20)
    got = []
    for page in read_ahead(iter(source)):
        got.append(page)
        source.consumed = page
    assert got == list(range(1, 21))
    assert source.max_ahead <= 2  # the page being staged + the one fetched beside it, never more
    assert source.threads == {"hr-sync-read-ahead"} and source.closed


def test_the_next_page_is_fetched_while_the_consumer_stages_this_one():
    source = Source(3)
    pages = read_ahead(iter(source))
    assert next(pages) == 1
    # Still "staging" page 1: page 2 is fetched without the consumer asking for it, page 3 is not.
    deadline = time.monotonic() + WAIT_S
    while source.fetched < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert source.fetched == 2
    time.sleep(0.2)
    assert source.fetched == 2
    assert list(pages) == [2, 3]


def test_an_error_comes_after_the_pages_before_it():
    source = Source(5, fail_at=3)
    got = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for page in read_ahead(iter(source)):
            got.append(page)
    assert got == [1, 2] and source.closed


def test_stopping_early_stops_the_thread_and_closes_the_source():
    source = Source(1000)
    before = {t.name for t in threading.enumerate()}
    with closing(read_ahead(iter(source))) as pages:
        assert next(pages) == 1
    assert source.closed and source.fetched <= 3
    assert "hr-sync-read-ahead" not in {t.name for t in threading.enumerate()} - before


def test_an_empty_read_yields_nothing():
    assert list(read_ahead(iter(Source(0)))) == []
