"""A page reader keeps nothing of a page the consumer let go while it reads the next: a 5,000-row
page is ~20 MB of parsed rows plus its body, and a reader that still held the last one while reading
the next doubled every load's memory per table in flight."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from hr_dataverse.dataverse.changes import read_changes
from hr_dataverse.sync.reader import plain_pages

PAGES = 4


class Marker:
    """Stands for a page's rows: alive as long as anything holds the page."""


class Client:
    """Answers GETs with ``PAGES`` pages; on each request it notes which earlier pages are still alive."""

    settings = SimpleNamespace(page_size=10)

    def __init__(self) -> None:
        self.markers: list[weakref.ref[Marker]] = []
        self.alive_at_request: list[list[int]] = []

    def request(self, method: str, url: str, **_: Any) -> SimpleNamespace:
        assert method == "GET"
        self.alive_at_request.append([n for n, ref in enumerate(self.markers, 1) if ref() is not None])
        n = len(self.markers) + 1
        marker = Marker()
        self.markers.append(weakref.ref(marker))
        link = ("@odata.nextLink", f"https://org.example/api/data/v9.2/things?page={n + 1}") if n < PAGES \
            else ("@odata.deltaLink", "https://org.example/api/data/v9.2/things?$deltatoken=1")
        body = {"value": [{"thingid": str(n), "marker": marker}], link[0]: link[1]}
        return SimpleNamespace(data=body, content=b"x" * 1000, status=200)


READERS: dict[str, Callable[[Client], Iterator[Any]]] = {
    "tracked initial read": lambda c: read_changes(c, "things", page_size=10),
    "delta read": lambda c: read_changes(c, "https://org.example/api/data/v9.2/things?$deltatoken=0"),
    "plain read": lambda c: plain_pages(c, "things", select=["thingid"], page_size=10),
}


@pytest.mark.parametrize("reader", READERS)
def test_the_last_page_is_let_go_before_the_next_is_read(reader: str) -> None:
    client = Client()
    seen = 0
    for page in READERS[reader](client):
        seen += 1
        del page  # the consumer is done with it, as the sync's load loop is after staging
    assert seen == PAGES
    assert client.alive_at_request == [[]] * PAGES
