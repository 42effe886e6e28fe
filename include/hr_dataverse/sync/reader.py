"""Page readers for the sync: tracked reads (initial + delta) and plain reads, with readable values.

Every data read sends ``Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue"``:
it is the only way the Web API gives a lookup's readable value (stored as ``<lookup>_name``), and it
gives a choice's label in the user's language (``<column>_label``); the warehouse falls back to the
metadata option labels when a row lacks the annotation.

Known service issue (MicrosoftDocs/powerapps-docs#439): with annotations requested, the last page of a
tracked read has been seen without ``@odata.deltaLink``. Callers treat that as "no baseline" (the
next run is a full load again) instead of trusting a missing link.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from ..dataverse import ChangePage
from ..dataverse.changes import read_changes
from ..dataverse.odata import select_clause
from ..dataverse.paging import follow_pages, prefer_header

if TYPE_CHECKING:
    from ..dataverse import DataverseClient

FORMATTED_VALUES = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'


def tracked_pages(
    client: DataverseClient,
    entity_set_or_delta_link: str,
    *,
    select: Sequence[str] | None,
    page_size: int,
    annotations: bool = True,
) -> Iterator[ChangePage]:
    """The change-tracking initial read of an entity set, or a delta read from a stored delta link,
    with readable values (see the module docstring); errors as ``read_changes`` raises them."""
    extra = (FORMATTED_VALUES,) if annotations else ()
    return read_changes(client, entity_set_or_delta_link, select=select, page_size=page_size, extra_prefer=extra)


def plain_pages(
    client: DataverseClient,
    entity_set: str,
    *,
    select: Sequence[str],
    page_size: int,
    filter: str | None = None,
) -> Iterator[ChangePage]:
    """An untracked read (tables without change tracking, key-range partitions), with annotations."""
    params = {"$select": select_clause(select)}
    if filter is not None:
        params["$filter"] = filter
    prefer = prefer_header(page_size, (FORMATTED_VALUES,))
    for page in follow_pages(client, entity_set, params=params, prefer=prefer):
        change_page = ChangePage(page.rows, [], page.next_link, None)
        del page  # not held in this frame while the next page is read (see follow_pages)
        yield change_page
        del change_page


def link_select(link: str) -> list[str]:
    """The column names in a delta link's ``$select`` (empty when it has none)."""
    value = parse_qs(urlsplit(link).query).get("$select", [""])[0]
    return [name for name in value.split(",") if name]
