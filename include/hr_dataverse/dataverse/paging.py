"""Server-driven paging: ``Prefer: odata.maxpagesize`` and ``@odata.nextLink`` followed verbatim."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import PagingError
from .odata import Filter, check_name, orderby_clause, select_clause
from .settings import MAX_PAGE_SIZE

if TYPE_CHECKING:
    from .transport import DataverseClient


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_link: str | None
    delta_link: str | None
    count: int | None  # @odata.count when $count=true was asked (Dataverse caps it at 5000)
    raw_context: str | None  # @odata.context


def prefer_header(page_size: int, extra: Iterable[str] = ()) -> str:
    """One comma-separated ``Prefer`` value, e.g. ``odata.track-changes,odata.maxpagesize=500``."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    return ",".join([*extra, f"odata.maxpagesize={page_size}"])


def follow_pages(
    client: DataverseClient, first: str, *, params: Mapping[str, str] | None, prefer: str
) -> Iterator[Page]:
    """GET ``first`` then every ``@odata.nextLink`` verbatim, re-sending the same ``Prefer``."""
    seen: set[str] = set()
    url: str | None = first
    page_params = params
    while url is not None:
        page = to_page(client.request("GET", url, params=page_params, headers={"Prefer": prefer}).data)
        next_link = page.next_link
        yield page
        # Only the link is kept: the consumer owns the page, which must not stay alive (thousands of
        # parsed rows) in this frame while the next one is read.
        del page
        if next_link is not None:
            if next_link in seen:
                raise PagingError("Dataverse returned the same @odata.nextLink twice; stopping to avoid "
                                  "an endless loop", url=next_link)
            seen.add(next_link)
        url, page_params = next_link, None


def to_page(payload: Any) -> Page:
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
        raise PagingError("expected a JSON object with a 'value' array from a collection query")
    count = payload.get("@odata.count")
    return Page(
        rows=payload["value"],
        next_link=payload.get("@odata.nextLink"),
        delta_link=payload.get("@odata.deltaLink"),
        count=int(count) if count is not None else None,
        raw_context=payload.get("@odata.context"),
    )


def iter_pages(
    client: DataverseClient,
    entity_set: str,
    *,
    select: Iterable[str] | None = None,
    filter: Filter | str | None = None,
    orderby: Iterable[str] | str | None = None,
    page_size: int | None = None,
    extra_prefer: Iterable[str] = (),
) -> Iterator[Page]:
    """Pages of ``entity_set`` (its EntitySetName). A ``str`` filter is sent as given: build it
    with :mod:`odata` so values are quoted correctly."""
    params: dict[str, str] = {}
    if select is not None:
        params["$select"] = select_clause(select)
    if filter is not None:
        params["$filter"] = str(filter)
    if orderby is not None:
        params["$orderby"] = orderby_clause(orderby)
    prefer = prefer_header(page_size or client.settings.page_size, extra_prefer)
    yield from follow_pages(client, check_name(entity_set, "entity set"), params=params, prefer=prefer)
