"""Dataverse writes: single rows, ``$batch`` change sets and the bulk ``*Multiple`` actions.

Every request goes through ``DataverseClient.request``, so throttling (429 + ``Retry-After``),
transient failures and the one 401 token refresh are handled exactly as for reads.

``write_many(client, table, op, rows)`` writes many rows of one table and returns one
``RowResult`` per row, in order:

* ``op="create"``: ``UpsertMultiple`` (rows that carry their id: idempotent, safe to retry),
  else ``CreateMultiple``, else ``$batch``. Rows with an id are sent in a batch as an upsert
  (``PATCH <set>(<id>)``), so a create repeated after a lost response does not duplicate the row.
* ``op="update"``: ``UpdateMultiple``, else ``$batch`` ``PATCH`` with ``If-Match: *`` (never creates).
* ``op="delete"``: ``$batch`` ``DELETE`` (standard tables have no bulk delete); a row that is
  already gone (404) counts as deleted.

Bulk support is not looked up in advance: the action is tried and, on the "message not enabled"
answer, remembered per environment and table (``BulkSupport``) and the rows go through ``$batch``.
Standard tables run a bulk action all or nothing, so a chunk that Dataverse rejects for a row-level
reason is sent again through ``$batch`` to find the failing rows and write the others.

``$batch`` requests carry ``Prefer: odata.continue-on-error`` and hold ``changeset_size`` operations
per atomic change set. When a change set fails, the operation its error part names (``Content-ID``)
gets that error and the others are sent again, one per change set; if the error part names no
operation, all of them are. Each row therefore ends with its own status, code and message.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..vocabulary import WriteOp
from .errors import (
    DataverseError,
    NetworkError,
    NotFound,
    PermissionDenied,
    ServerError,
    Throttled,
    Unauthorized,
)

if TYPE_CHECKING:
    from .transport import DataverseClient, Response

CRLF = "\r\n"
NAMESPACE = "Microsoft.Dynamics.CRM."
MAX_BATCH_OPERATIONS = 1000  # Dataverse's limit per $batch
# UNCONFIRMED wording: how Dataverse refuses a bulk message a table has no SdkMessageFilter for
# ("The 'CreateMultiple' method does not support entities of type 'x'. MessageProcessorCache
# returned MessageProcessor.Empty."). Older versions answer 404 for the unknown action segment.
UNSUPPORTED_MARKERS = ("MessageProcessor.Empty", "does not support entities of type")
# Errors about the request as a whole (or the service), not one row: sending the rows one by one
# would fail the same way, so a failed bulk chunk is not split up for these.
_NOT_ROW_ERRORS = (Unauthorized, PermissionDenied, Throttled, ServerError, NetworkError)
_ENTITY_ID = re.compile(r"\(([0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12})\)\s*$")
_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.I)
_STATUS_LINE = re.compile(r"^HTTP/1\.[01] (\d{3})")


@dataclass(frozen=True)
class EntityTable:
    """Names of one Dataverse table as the Web API needs them."""

    logical_name: str
    entity_set: str
    primary_id: str

    def path(self, row_id: str) -> str:
        return f"{self.entity_set}({row_id})"


@dataclass(frozen=True)
class RowWrite:
    """One row to write. ``ref`` is the caller's name for it (echoed in the result); ``row_id`` the
    primary key (required for update and delete; optional for create: Dataverse assigns one)."""

    ref: str
    row_id: str | None = None
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RowResult:
    """What happened to one row: ``ok`` and the row id, or Dataverse's status, code and message."""

    ref: str
    ok: bool
    row_id: str | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    via: str = ""  # the way it was written: "UpsertMultiple", "CreateMultiple", "UpdateMultiple" or "$batch"


@dataclass(frozen=True)
class WriteOptions:
    """Chunk sizes. ``bulk_chunk_size``: targets per ``*Multiple`` request (all or nothing on
    standard tables, so smaller chunks keep a failure small); ``batch_size``: operations per
    ``$batch`` (at most 1000); ``changeset_size``: operations per atomic change set."""

    bulk_chunk_size: int = 200
    batch_size: int = 100
    changeset_size: int = 10

    def __post_init__(self) -> None:
        for name in ("bulk_chunk_size", "batch_size", "changeset_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        if self.batch_size > MAX_BATCH_OPERATIONS:
            raise ValueError(f"batch_size must be at most {MAX_BATCH_OPERATIONS} (Dataverse's $batch limit), "
                             f"got {self.batch_size}")
        if self.changeset_size > self.batch_size:
            raise ValueError(f"changeset_size ({self.changeset_size}) cannot exceed batch_size ({self.batch_size})")


@dataclass
class WriteStats:
    """Write requests ``write_many`` sent (the transport's retries of one request not included), per
    kind (bulk message or ``$batch``) and per table."""

    requests: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_table: dict[str, int] = field(default_factory=dict)

    def count(self, table: EntityTable, kind: str) -> None:
        self.requests += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.by_table[table.logical_name] = self.by_table.get(table.logical_name, 0) + 1


class BulkSupport:
    """Which tables accept which bulk message, learnt by trying; keyed by environment URL."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], bool] = {}
        self._lock = threading.Lock()

    def get(self, client: DataverseClient, table: EntityTable, message: str) -> bool | None:
        with self._lock:
            return self._known.get((client.base_url, table.logical_name, message))

    def set(self, client: DataverseClient, table: EntityTable, message: str, supported: bool) -> None:
        with self._lock:
            self._known[(client.base_url, table.logical_name, message)] = supported


BULK_SUPPORT = BulkSupport()


# --- single rows ---------------------------------------------------------------------------------


def create(client: DataverseClient, table: EntityTable, body: Mapping[str, Any]) -> str:
    """``POST <set>``; returns the new row's id (from ``OData-EntityId``)."""
    resp = client.request("POST", table.entity_set, json=dict(body), expect_json=False)
    row_id = _id_from_entity_id(resp.headers.get("OData-EntityId"))
    if row_id is None:
        raise DataverseError(f"creating a {table.logical_name} row: the answer has no OData-EntityId with the new "
                             "row's id", status=resp.status, request_id=resp.request_id, url=resp.url)
    return row_id


def update(client: DataverseClient, table: EntityTable, row_id: str, body: Mapping[str, Any]) -> None:
    """``PATCH <set>(<id>)`` with ``If-Match: *``: updates an existing row, never creates (404 if absent)."""
    client.request("PATCH", table.path(row_id), json=dict(body), headers={"If-Match": "*"}, expect_json=False)


def upsert(client: DataverseClient, table: EntityTable, row_id: str, body: Mapping[str, Any]) -> None:
    """``PATCH <set>(<id>)`` without ``If-Match``: creates the row with this id or updates it."""
    client.request("PATCH", table.path(row_id), json=dict(body), expect_json=False, idempotent=True)


def delete(client: DataverseClient, table: EntityTable, row_id: str) -> None:
    """``DELETE <set>(<id>)``; raises ``NotFound`` when the row does not exist."""
    client.request("DELETE", table.path(row_id), expect_json=False)


# --- many rows -----------------------------------------------------------------------------------


def write_many(
    client: DataverseClient,
    table: EntityTable,
    op: WriteOp | str,
    rows: Sequence[RowWrite],
    *,
    options: WriteOptions | None = None,
    stats: WriteStats | None = None,
    support: BulkSupport | None = None,
) -> list[RowResult]:
    """Write ``rows`` of one table (see the module docstring); one result per row, in order."""
    try:
        op = WriteOp(op)
    except ValueError:
        raise ValueError(f"op must be one of {WriteOp.listing()}, got {op!r}") from None
    if op is not WriteOp.CREATE and any(r.row_id is None for r in rows):
        raise ValueError(f"every row to {op} needs its row_id")
    options = options or WriteOptions()
    stats = stats if stats is not None else WriteStats()
    support = support if support is not None else BULK_SUPPORT
    results: dict[int, RowResult] = {}
    pending = list(range(len(rows)))
    isolate: list[int] = []
    for message in _bulk_messages(op, rows):
        if not pending or support.get(client, table, message) is False:
            continue
        pending, rejected = _bulk(client, table, message, rows, pending, results, options, stats, support)
        isolate += rejected
    if pending or isolate:
        results.update(_batches(client, table, op, rows, sorted(pending + isolate), options, stats))
    return [results[i] for i in range(len(rows))]


def _bulk_messages(op: WriteOp, rows: Sequence[RowWrite]) -> list[str]:
    if op is WriteOp.CREATE:
        return ["UpsertMultiple", "CreateMultiple"] if all(r.row_id for r in rows) else ["CreateMultiple"]
    return ["UpdateMultiple"] if op is WriteOp.UPDATE else []


def _bulk(
    client: DataverseClient,
    table: EntityTable,
    message: str,
    rows: Sequence[RowWrite],
    pending: list[int],
    results: dict[int, RowResult],
    options: WriteOptions,
    stats: WriteStats,
    support: BulkSupport,
) -> tuple[list[int], list[int]]:
    """Send ``pending`` rows with ``message`` in chunks. Returns the rows the table does not accept
    this message for (to try the next way) and the rows of chunks refused for a row-level reason
    (to send through ``$batch``, which finds the failing rows)."""
    rejected: list[int] = []
    chunks = list(_chunks(pending, options.bulk_chunk_size))
    for n, chunk in enumerate(chunks):
        targets = [_bulk_target(table, rows[i]) for i in chunk]
        stats.count(table, message)
        try:
            resp = client.request("POST", f"{table.entity_set}/{NAMESPACE}{message}", json={"Targets": targets},
                                  expect_json=message == "CreateMultiple", idempotent=message != "CreateMultiple")
        except DataverseError as exc:
            if is_unsupported(exc, message):
                support.set(client, table, message, False)
                return [i for c in chunks[n:] for i in c], rejected
            if isinstance(exc, _NOT_ROW_ERRORS):
                results.update({i: _failure(rows[i].ref, exc, message) for i in chunk})
            else:
                rejected.extend(chunk)
            continue
        support.set(client, table, message, True)
        created = _created_ids(resp, len(chunk)) if message == "CreateMultiple" else [None] * len(chunk)
        for i, row_id in zip(chunk, created, strict=True):
            results[i] = RowResult(rows[i].ref, True, rows[i].row_id or row_id, resp.status,
                                   request_id=resp.request_id, via=message)
    return [], rejected


def is_unsupported(exc: DataverseError, message: str) -> bool:
    """True when Dataverse says the table does not support the bulk ``message`` at all."""
    text = exc.message or ""
    if any(marker in text for marker in UNSUPPORTED_MARKERS):
        return True
    return isinstance(exc, NotFound) and "segment" in text and message in text


def _bulk_target(table: EntityTable, row: RowWrite) -> dict[str, Any]:
    """A ``Targets`` entry: the body, the mandatory ``@odata.type`` and the primary key when known
    (UpdateMultiple/UpsertMultiple name the row by it; CreateMultiple then uses the chosen id)."""
    target = {**(row.body or {}), "@odata.type": f"{NAMESPACE}{table.logical_name}"}
    if row.row_id is not None:
        target[table.primary_id] = row.row_id
    return target


def _created_ids(resp: Response, expected: int) -> list[str | None]:
    ids = resp.data.get("Ids") if isinstance(resp.data, dict) else None
    if not isinstance(ids, list) or len(ids) != expected:
        return [None] * expected  # written, but Dataverse did not say under which ids
    return [str(i) for i in ids]


# --- $batch --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """One response part: the HTTP status line, headers and body of an inner response."""

    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None


def _batches(
    client: DataverseClient,
    table: EntityTable,
    op: WriteOp,
    rows: Sequence[RowWrite],
    pending: list[int],
    options: WriteOptions,
    stats: WriteStats,
) -> dict[int, RowResult]:
    results: dict[int, RowResult] = {}
    size = options.changeset_size
    while pending:
        again: list[int] = []
        for batch in _chunks(pending, options.batch_size):
            changesets = list(_chunks(batch, size))
            stats.count(table, "$batch")
            try:
                answers = _send_batch(client, table, op, rows, changesets)
            except DataverseError as exc:
                results.update({i: _failure(rows[i].ref, exc, "$batch") for i in batch})
                continue
            for changeset, answer in zip(changesets, answers, strict=True):
                again.extend(_settle(op, rows, changeset, answer, results))
        pending, size = again, 1  # a second round sends each remaining row in its own change set
    return results


def _settle(op: WriteOp, rows: Sequence[RowWrite], changeset: list[int],
            answer: list[_Part] | _Part | None, results: dict[int, RowResult]) -> list[int]:
    """Record a change set's outcome; returns rows to send again (rolled back by another row's failure)."""
    if isinstance(answer, list):  # committed: one part per operation
        by_id = {p.content_id: p for p in answer}
        for position, i in enumerate(changeset):
            part = by_id.get(_content_id(i)) or (answer[position] if position < len(answer) else None)
            row_id = rows[i].row_id or (_id_from_entity_id(part.headers.get("odata-entityid")) if part else None)
            results[i] = RowResult(rows[i].ref, True, row_id, part.status if part else None,
                                   request_id=part.headers.get("req_id") if part else None, via="$batch")
        return []
    if answer is None:
        for i in changeset:
            results[i] = RowResult(rows[i].ref, False, rows[i].row_id, via="$batch",
                                   message="Dataverse's $batch answer has no part for this change set")
        return []
    failed = next((i for i in changeset if _content_id(i) == answer.content_id), None)
    if failed is None and len(changeset) == 1:
        failed = changeset[0]
    if failed is None:
        return list(changeset)  # the error does not say which operation failed: try each alone
    if op is WriteOp.DELETE and answer.status == 404:  # already gone: the desired end state
        results[failed] = RowResult(rows[failed].ref, True, rows[failed].row_id, 404, via="$batch")
    else:
        results[failed] = _part_failure(rows[failed], answer)
    return [i for i in changeset if i != failed]


def _send_batch(client: DataverseClient, table: EntityTable, op: WriteOp, rows: Sequence[RowWrite],
                changesets: list[list[int]]) -> list[list[_Part] | _Part | None]:
    """POST one ``$batch``; per change set its committed parts (a list) or its single error part."""
    boundary = f"batch_{uuid.uuid4()}"
    body = _batch_body(client, table, op, rows, changesets, boundary)
    idempotent = op is not WriteOp.CREATE or all(rows[i].row_id for c in changesets for i in c)
    resp = client.request(
        "POST", "$batch", data=body.encode("utf-8"), expect_json=False, idempotent=idempotent,
        headers={"Content-Type": f"multipart/mixed; boundary={boundary}", "Prefer": "odata.continue-on-error"},
    )
    items = parse_batch_response(resp.headers.get("Content-Type") or "", resp.content)
    return [items[n] if n < len(items) else None for n in range(len(changesets))]


def _batch_body(client: DataverseClient, table: EntityTable, op: WriteOp, rows: Sequence[RowWrite],
                changesets: list[list[int]], boundary: str) -> str:
    lines: list[str] = []
    for changeset in changesets:
        inner = f"changeset_{uuid.uuid4()}"
        lines += [f"--{boundary}", f"Content-Type: multipart/mixed; boundary={inner}", ""]
        for i in changeset:
            method, path, headers, payload = _operation(table, op, rows[i])
            lines += [f"--{inner}", "Content-Type: application/http", "Content-Transfer-Encoding: binary",
                      f"Content-ID: {_content_id(i)}", "", f"{method} {client.url_for(path)} HTTP/1.1"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            lines += ["", payload]
        lines.append(f"--{inner}--")
    lines.append(f"--{boundary}--")
    return CRLF.join(lines) + CRLF


def _operation(table: EntityTable, op: WriteOp, row: RowWrite) -> tuple[str, str, dict[str, str], str]:
    """(method, path, headers, JSON body) of one operation inside a change set."""
    json_headers = {"Content-Type": "application/json"}
    if op is WriteOp.DELETE:
        return "DELETE", table.path(str(row.row_id)), {}, ""
    body = json.dumps(dict(row.body or {}))
    if op is WriteOp.UPDATE:
        return "PATCH", table.path(str(row.row_id)), {**json_headers, "If-Match": "*"}, body
    if row.row_id is not None:  # a create with a chosen id is an upsert: repeating it is harmless
        return "PATCH", table.path(row.row_id), json_headers, body
    return "POST", table.entity_set, json_headers, body


def _content_id(index: int) -> str:
    return str(index + 1)


def parse_batch_response(content_type: str, body: bytes) -> list[list[_Part] | _Part]:
    """A ``$batch`` answer as top-level items: a change set's parts (list) or a single part."""
    items: list[list[_Part] | _Part] = []
    for headers, content in _mime_parts(body, _boundary_of(content_type)):
        part_type = headers.get("content-type", "")
        if part_type.lower().startswith("multipart/"):
            items.append([_http_part(h, c) for h, c in _mime_parts(content, _boundary_of(part_type))])
        else:
            items.append(_http_part(headers, content))
    return items


def _boundary_of(content_type: str) -> str:
    match = _BOUNDARY.search(content_type)
    if not match:
        raise DataverseError(f"the $batch answer is not multipart (Content-Type {content_type or 'missing'!r})")
    return match.group(1) or match.group(2)


def _mime_parts(body: bytes, boundary: str) -> Iterator[tuple[dict[str, str], bytes]]:
    """(lower-cased headers, content) of each part; the line break before a delimiter is the delimiter's."""
    delimiter = f"--{boundary}".encode()
    pieces = body.split(delimiter)
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            return
        piece = piece.removeprefix(b"\r\n").removeprefix(b"\n")
        piece = piece.removesuffix(b"\n").removesuffix(b"\r")
        yield _split_head(piece)
    raise DataverseError(f"the $batch answer has no closing delimiter --{boundary}--")


def _split_head(raw: bytes) -> tuple[dict[str, str], bytes]:
    """(headers up to the first blank line, the rest)."""
    normal = raw.replace(b"\r\n", b"\n")
    head, _, rest = normal.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _http_part(mime_headers: dict[str, str], content: bytes) -> _Part:
    line, _, rest = content.partition(b"\n")
    match = _STATUS_LINE.match(line.decode("ascii", errors="replace").strip())
    if not match:
        raise DataverseError(f"a $batch answer part has no HTTP status line (got {line[:60]!r})")
    headers, body = _split_head(rest)
    content_id = mime_headers.get("content-id") or headers.get("content-id")
    return _Part(int(match.group(1)), headers, body.strip(), content_id)


# --- results -------------------------------------------------------------------------------------


def _failure(ref: str, exc: DataverseError, via: str) -> RowResult:
    return RowResult(ref, False, None, exc.status, exc.code, exc.message, exc.request_id, via)


def _part_failure(row: RowWrite, part: _Part) -> RowResult:
    code, message = None, None
    try:
        payload = json.loads(part.body or b"null")
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        code = str(payload["error"].get("code") or "") or None
        message = str(payload["error"].get("message") or "")
    if not message:
        message = part.body.decode("utf-8", errors="replace")[:300] or f"HTTP {part.status}"
    return RowResult(row.ref, False, row.row_id, part.status, code, message, part.headers.get("req_id"), "$batch")


def _id_from_entity_id(value: str | None) -> str | None:
    match = _ENTITY_ID.search(value or "")
    return match.group(1).lower() if match else None


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
