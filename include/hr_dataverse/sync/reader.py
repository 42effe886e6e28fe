"""Page readers for the sync: tracked reads (initial + delta) and plain reads, with readable values.

Every data read sends ``Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue"``:
it is the only way the Web API gives a lookup's readable value (stored as ``<lookup>_name``), and it
gives a choice's label in the user's language (``<column>_label``); the warehouse falls back to the
metadata option labels when a row lacks the annotation. ``read_changes`` in the client sends no
annotation preference, so the tracked reads are built here from the same paging primitives.

Known service issue (MicrosoftDocs/powerapps-docs#439): with annotations requested, the last page of a
tracked read has been seen without ``@odata.deltaLink``. Callers treat that as "no baseline" (the
next run is a full load again) instead of trusting a missing link.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from ..dataverse import ChangePage, ChangeTrackingNotEnabled, DataverseError, DeltaTokenExpired
from ..dataverse.changes import TRACK_CHANGES, is_delta_link
from ..dataverse.errors import PermissionDenied, Throttled, Unauthorized
from ..dataverse.odata import select_clause
from ..dataverse.paging import follow_pages, prefer_header

if TYPE_CHECKING:
    from ..dataverse import DataverseClient

FORMATTED_VALUES = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
_DELETED_SUFFIX = "/$deletedEntity"
# 4xx answers on a delta link that are not about the token: a full resync would fail the same way.
_NOT_TOKEN_PROBLEMS = (Unauthorized, PermissionDenied, Throttled, ChangeTrackingNotEnabled)


def tracked_pages(
    client: DataverseClient,
    entity_set_or_delta_link: str,
    *,
    select: Sequence[str] | None,
    page_size: int,
    annotations: bool = True,
) -> Iterator[ChangePage]:
    """The change-tracking initial read of an entity set, or a delta read from a stored delta link.

    Raises ``ChangeTrackingNotEnabled`` when the table is not tracked and, on a delta link,
    ``DeltaTokenExpired`` for the expiry code or any other 4xx that is about the link (the
    reference's advice: resync). ``select`` must be None for a delta link (it is baked in).
    """
    extra = (TRACK_CHANGES, FORMATTED_VALUES) if annotations else (TRACK_CHANGES,)
    prefer = prefer_header(page_size, extra)
    if not is_delta_link(entity_set_or_delta_link):
        params = {"$select": select_clause(select)} if select is not None else None
        for page in follow_pages(client, entity_set_or_delta_link, params=params, prefer=prefer):
            yield split_page(page.rows, page.next_link, page.delta_link)
        return
    if select is not None:
        raise ValueError("a delta link carries its own $select")
    pages = follow_pages(client, entity_set_or_delta_link, params=None, prefer=prefer)
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except DeltaTokenExpired:
            raise
        except DataverseError as exc:
            if 400 <= (exc.status or 0) < 500 and not isinstance(exc, _NOT_TOKEN_PROBLEMS):
                raise DeltaTokenExpired(
                    f"the stored delta link was refused ({exc.message})", status=exc.status, code=exc.code,
                    request_id=exc.request_id, url=exc.url,
                ) from exc
            raise
        yield split_page(page.rows, page.next_link, page.delta_link)


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
        yield ChangePage(page.rows, [], page.next_link, None)


def split_page(rows: list[dict[str, Any]], next_link: str | None, delta_link: str | None) -> ChangePage:
    """Separate ``$deletedEntity`` rows (deletions in a delta) from upserted rows."""
    upserts: list[dict[str, Any]] = []
    deleted: list[str] = []
    for row in rows:
        if str(row.get("@odata.context", "")).endswith(_DELETED_SUFFIX):
            deleted.append(str(row["id"]))
        else:
            upserts.append(row)
    return ChangePage(upserts, deleted, next_link, delta_link)


def link_select(link: str) -> list[str]:
    """The column names in a delta link's ``$select`` (empty when it has none)."""
    value = parse_qs(urlsplit(link).query).get("$select", [""])[0]
    return [name for name in value.split(",") if name]


def with_select(link: str, select: Sequence[str]) -> str:
    """``link`` with its ``$select`` replaced; every other query part is kept byte for byte.

    Used for the baseline of a partitioned load, read with ``$select=<pk>`` only. A delta token is a
    version stamp (``<version>!<time>``) independent of the columns: the Web API delta read is the
    SDK's ``RetrieveEntityChangesRequest``, whose ``Columns`` and ``DataVersion`` are separate
    (reference §5.5). That Dataverse accepts a changed ``$select`` next to a token is UNCONFIRMED
    (the emulator does); if it refused, the next delta would fail as invalid and resync in full.
    """
    parts = urlsplit(link)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] not in ("$select", "%24select")]
    query = "&".join([f"$select={quote(select_clause(select), safe=',')}", *kept])
    return urlunsplit(parts._replace(query=query))
