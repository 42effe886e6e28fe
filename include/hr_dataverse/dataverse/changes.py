"""Change-tracking reads: the initial full read, then deltas from the stored ``@odata.deltaLink``.

Store the ``delta_link`` of the **last** page (earlier pages only carry ``next_link``) after
every page of the run has been written; pass it back next time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import (
    ChangeTrackingNotEnabled,
    DataverseError,
    DeltaTokenExpired,
    PermissionDenied,
    Throttled,
    Unauthorized,
)
from .odata import check_name, select_clause
from .paging import follow_pages, prefer_header

if TYPE_CHECKING:
    from .transport import DataverseClient

TRACK_CHANGES = "odata.track-changes"
_DELETED_SUFFIX = "/$deletedEntity"
# 4xx answers on a delta link that do not mean "the token is unusable": a resync would not help.
_NOT_TOKEN_PROBLEMS = (Unauthorized, PermissionDenied, Throttled, ChangeTrackingNotEnabled)


@dataclass(frozen=True)
class ChangePage:
    upserts: list[dict[str, Any]]
    deleted_ids: list[str]
    next_link: str | None
    delta_link: str | None


def is_delta_link(value: str) -> bool:
    return bool(urlsplit(value).scheme)


def read_changes(
    client: DataverseClient,
    entity_set_or_delta_link: str,
    *,
    select: Iterable[str] | None = None,
    page_size: int | None = None,
    extra_prefer: Iterable[str] = (),
) -> Iterator[ChangePage]:
    """Initial read when given an entity set name, delta read when given a stored delta link.

    ``extra_prefer`` adds preferences next to ``odata.track-changes`` (e.g. the FormattedValue
    annotations the sync asks for), resent on every page.

    Raises ``ChangeTrackingNotEnabled`` (0x80072491) when the table is not tracked, and
    ``DeltaTokenExpired`` for 0x80044352 or any other 4xx on a delta link (the reference's
    advice: treat it as expired and resync). 401/403/429 and 0x80072491 keep their own types
    there, because a full resync would fail the same way.
    """
    prefer = prefer_header(page_size or client.settings.page_size, (TRACK_CHANGES, *extra_prefer))
    if is_delta_link(entity_set_or_delta_link):
        if select is not None:
            raise ValueError("select cannot be combined with a delta link: its $select is fixed in the link")
        yield from _delta(client, entity_set_or_delta_link, prefer)
        return
    params = {"$select": select_clause(select)} if select is not None else None
    first = check_name(entity_set_or_delta_link, "entity set")
    for page in follow_pages(client, first, params=params, prefer=prefer):
        split = _split(page.rows, page.next_link, page.delta_link)
        del page  # neither the page nor its split stays in this frame while the next page is read
        yield split
        del split


def _delta(client: DataverseClient, delta_link: str, prefer: str) -> Iterator[ChangePage]:
    pages = follow_pages(client, delta_link, params=None, prefer=prefer)
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except DeltaTokenExpired:
            raise
        except DataverseError as exc:
            status = exc.status or 0
            if 400 <= status < 500 and not isinstance(exc, _NOT_TOKEN_PROBLEMS):
                expired = DeltaTokenExpired(
                    f"the stored delta link was refused ({exc.message}); run a full resync",
                    status=exc.status, code=exc.code, request_id=exc.request_id, url=exc.url,
                )
                raise expired from exc
            raise
        split = _split(page.rows, page.next_link, page.delta_link)
        del page  # as in read_changes: nothing of a page stays here while the next is read
        yield split
        del split


def _split(rows: list[dict[str, Any]], next_link: str | None, delta_link: str | None) -> ChangePage:
    upserts: list[dict[str, Any]] = []
    deleted: list[str] = []
    for row in rows:
        if str(row.get("@odata.context", "")).endswith(_DELETED_SUFFIX):
            deleted.append(str(row["id"]))
        else:
            upserts.append(row)
    return ChangePage(upserts, deleted, next_link, delta_link)
