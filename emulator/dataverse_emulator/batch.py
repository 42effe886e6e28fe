"""``POST $batch``: multipart/mixed batches with atomic change sets (reference §7.3).

Each part is an ``application/http`` request (URL relative to the server ``/api/data/v9.2/…``, absolute,
or relative to the service root) or a change set (a nested ``multipart/mixed``). Every inner request
runs through ``WebApi.handle`` so it behaves exactly like the same request sent alone; the batch is one
request to the pipeline, so service protection counts it once.

- Change sets are atomic (a failing request rolls back the change set's earlier writes), refuse GET, and
  resolve ``Content-ID`` references (``$1`` as the URL or inside ``@odata.bind``).
- Without ``Prefer: odata.continue-on-error`` processing stops at the first failure and the batch
  answers 400 with the parts done so far plus the failing one; with it the batch is 200 and every part
  carries its own status (``Preference-Applied: odata.continue-on-error``).
- Responses use ``batchresponse_<guid>`` / ``changesetresponse_<guid>`` boundaries and CRLF lines.

UNCONFIRMED (OData 4.0 §11.7.4 followed): a failed change set is answered by one error part in place of
the ``changesetresponse``. Error codes for malformed batches are best guesses (the texts are clear).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .http import Headers, Request, Response, dataverse_error
from .webapi_write import Transaction

if TYPE_CHECKING:
    from .security import Principal
    from .webapi import WebApi

# UNCONFIRMED: code for batch envelope errors (malformed multipart, too many parts, bad references);
# Dataverse reports OData reader/URI failures with this code.
BATCH_ERROR = "0x80060888"
CRLF = "\r\n"
_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.I)
_REQUEST_LINE = re.compile(r"^([A-Z]+) (\S+) HTTP/1\.[01]$")
# ``$<content-id>`` at the start of a URL; ``$batch``/``$metadata`` are resources, not references.
_REFERENCE = re.compile(r"^\$(?!(?:batch|metadata)(?:[/?]|$))([^/?]+)(.*)$", re.S)
CHANGE_SET_METHODS = ("POST", "PATCH", "PUT", "DELETE")


class BatchError(Exception):
    """The whole batch is refused (400) before any part runs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def response(self) -> Response:
        return dataverse_error(400, BATCH_ERROR, self.message)


@dataclass
class Operation:
    method: str
    url: str
    headers: Headers
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


@dataclass
class PartResult:
    """One response part; ``changeset`` holds the responses of a committed change set."""

    response: Response | None = None
    content_id: str | None = None
    changeset: list[PartResult] | None = None

    @property
    def failed(self) -> bool:
        return self.response is not None and self.response.status >= 400


def handle_batch(api: WebApi, req: Request, principal: Principal) -> Response:
    try:
        parts = parse_batch(req.headers.get("Content-Type") or "", req.body)
        total = sum(len(p.operations) if isinstance(p, ChangeSet) else 1 for p in parts)
        if total > api.config.max_batch_parts:
            raise BatchError(
                f"The batch contains {total} requests; the maximum number of requests in a batch is "
                f"{api.config.max_batch_parts}."
            )
    except BatchError as exc:
        return exc.response()
    continue_on_error = "odata.continue-on-error" in req.prefer
    runner = _Runner(api, req, principal)
    results: list[PartResult] = []
    stopped = False
    for part in parts:
        result = runner.change_set(part) if isinstance(part, ChangeSet) else runner.single(part)
        results.append(result)
        if result.failed and not continue_on_error:
            stopped = True
            break
    boundary = f"batchresponse_{uuid.uuid4()}"
    headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
    if continue_on_error:
        headers["Preference-Applied"] = "odata.continue-on-error"
    body = _render(results, boundary)
    rows = sum(r.response.rows for r in _flatten(results) if r.response is not None)
    return Response(status=400 if stopped else 200, headers=Headers(headers), body=body.encode("utf-8"), rows=rows)


# --- parsing -------------------------------------------------------------------------------------


def parse_batch(content_type: str, body: bytes) -> list[Operation | ChangeSet]:
    """The batch body as operations and change sets; ``BatchError`` for anything malformed."""
    parts: list[Operation | ChangeSet] = []
    for headers, content in _mime_parts(body, _boundary(content_type, "The $batch request")):
        part_type = headers.get("Content-Type") or ""
        if not part_type.lower().startswith("multipart/"):
            parts.append(_operation(headers, content))
            continue
        change_set = ChangeSet()
        for inner_headers, inner in _mime_parts(content, _boundary(part_type, "A change set")):
            if (inner_headers.get("Content-Type") or "").lower().startswith("multipart/"):
                raise BatchError("A change set cannot contain another change set or batch.")
            op = _operation(inner_headers, inner)
            if op.method not in CHANGE_SET_METHODS:
                raise BatchError(
                    f"An invalid HTTP method '{op.method}' was detected for a request in a change set. Requests "
                    "in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'."
                )
            change_set.operations.append(op)
        parts.append(change_set)
    return parts


def _boundary(content_type: str, what: str) -> str:
    if not content_type.lower().startswith("multipart/mixed"):
        raise BatchError(
            f"{what} must have the Content-Type 'multipart/mixed; boundary=<boundary>'; "
            f"got '{content_type or '(none)'}'."
        )
    match = _BOUNDARY.search(content_type)
    if not match:
        raise BatchError(f"{what} has no boundary parameter in its Content-Type '{content_type}'.")
    return match.group(1) or match.group(2)


def _mime_parts(body: bytes, boundary: str) -> list[tuple[Headers, bytes]]:
    """Split a multipart body on ``--boundary`` lines (CRLF or LF): each part's headers and content.
    The line break before a delimiter belongs to the delimiter (RFC 2046)."""
    delimiter, closing = f"--{boundary}".encode(), f"--{boundary}--".encode()
    parts: list[list[bytes]] = []
    current: list[bytes] | None = None
    for line in body.split(b"\n"):
        bare = line.rstrip(b"\r").rstrip(b" \t")
        if bare == closing:
            heads = [_split_head(b"\n".join(lines).removesuffix(b"\r")) for lines in parts]
            return [(_part_headers(head), content) for head, content in heads]
        if bare == delimiter:
            current = []
            parts.append(current)
        elif current is not None:
            current.append(line)
    raise BatchError(f"The multipart body has no closing delimiter '--{boundary}--'.")


def _split_head(raw: bytes) -> tuple[list[str], bytes]:
    """(header lines up to the first blank line, the bytes after it)."""
    lines = raw.split(b"\n")
    for index, line in enumerate(lines):
        if not line.strip():
            return _decode(lines[:index]), b"\n".join(lines[index + 1:])
    return _decode([x for x in lines if x.strip()]), b""


def _decode(lines: list[bytes]) -> list[str]:
    return [x.rstrip(b"\r").decode("utf-8", errors="replace") for x in lines]


def _part_headers(lines: list[str]) -> Headers:
    headers = Headers()
    for text in lines:
        name, colon, value = text.partition(":")
        if not colon or not name.strip():
            raise BatchError(f"Malformed header line in a batch part: '{text}'.")
        headers.add(name.strip(), value.strip())
    return headers


def _request_head(lines: list[str]) -> tuple[str, str, Headers]:
    if not lines:
        raise BatchError("A batch part of type application/http has no request line.")
    match = _REQUEST_LINE.match(lines[0].strip())
    if not match:
        raise BatchError(  # OData reader text (a URL must be percent-encoded: no spaces)
            f"The request line '{lines[0].strip()}' is invalid. The request line at the start of each operation "
            "must have the format 'METHOD URL VERSION'."
        )
    return match.group(1), match.group(2), _part_headers(lines[1:])


def _operation(headers: Headers, content: bytes) -> Operation:
    if (headers.get("Content-Type") or "").lower().split(";")[0].strip() != "application/http":
        raise BatchError(
            "Each batch part must have Content-Type 'application/http' (or be a multipart/mixed change set); "
            f"got '{headers.get('Content-Type') or '(none)'}'."
        )
    head, body = _split_head(content)
    method, url, inner_headers = _request_head(head)
    content_id = headers.get("Content-ID") or inner_headers.get("Content-ID")
    return Operation(method, url, inner_headers, body.rstrip(b"\r\n"), content_id)


# --- execution -----------------------------------------------------------------------------------


class _Runner:
    """Runs parts as ordinary Web API requests of the batch's caller."""

    def __init__(self, api: WebApi, outer: Request, principal: Principal) -> None:
        self.api = api
        self.outer = outer
        self.principal = principal
        self.version = api.version_of(outer) or api.config.api_version

    def single(self, op: Operation) -> PartResult:
        return PartResult(self._run(op, {}), op.content_id)

    def change_set(self, change_set: ChangeSet) -> PartResult:
        """All or nothing; ``Content-ID`` references resolve to earlier parts of this change set."""
        references: dict[str, str] = {}
        done: list[PartResult] = []
        with Transaction(self.api.store) as tx:
            for op in change_set.operations:
                resp = self._run(op, references)
                if resp.status >= 400:
                    tx.rollback()
                    return PartResult(resp, op.content_id)
                done.append(PartResult(resp, op.content_id))
                location = resp.headers.get("OData-EntityId")
                if op.content_id and location:
                    references[op.content_id] = location
        return PartResult(changeset=done)

    def _run(self, op: Operation, references: dict[str, str]) -> Response:
        try:
            inner = self._request(op, references)
            resp = self._execute(inner)
            request_id = inner.request_id
        except BatchError as exc:
            resp, request_id = exc.response(), str(uuid.uuid4())
        if resp.status >= 400:
            resp.headers.set("REQ_ID", request_id)
        return resp

    def _request(self, op: Operation, references: dict[str, str]) -> Request:
        url = _dereference(op.url, references)
        split = urlsplit(url)
        path = split.path if split.path.startswith("/") else f"/api/data/{self.version}/{split.path}"
        body = _bind_references(op.body, references) if b"@odata.bind" in op.body else op.body
        return Request(op.method, unquote(path), split.query, Headers(op.headers.items()), body,
                       self.outer.scheme_host)

    def _execute(self, inner: Request) -> Response:
        if inner.path.rstrip("/").endswith("/$batch"):
            return dataverse_error(400, BATCH_ERROR, "A $batch request cannot contain another $batch request.")
        try:
            return self.api.handle(inner, self.principal)
        except Exception as exc:  # noqa: BLE001 - one failing part must not take the batch down
            return dataverse_error(500, "0x80040216", f"An unexpected error occurred: {type(exc).__name__}: {exc}")


def _dereference(url: str, references: dict[str, str]) -> str:
    match = _REFERENCE.match(url)
    if not match:
        return url
    if match.group(1) not in references:
        raise BatchError(f"Content-ID Reference: '${match.group(1)}' does not exist in the batch context.")
    return references[match.group(1)] + match.group(2)


def _bind_references(body: bytes, references: dict[str, str]) -> bytes:
    """``"Nav@odata.bind": "$1"`` -> the entity URL part 1 created (same change set only)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return body  # the handler reports the malformed JSON the same way it does outside a batch
    if not isinstance(payload, dict):
        return body
    changed = False
    for key, value in payload.items():
        if key.endswith("@odata.bind") and isinstance(value, str) and _REFERENCE.match(value):
            payload[key] = _dereference(value, references)
            changed = True
    return json.dumps(payload).encode("utf-8") if changed else body


# --- rendering -----------------------------------------------------------------------------------


def _flatten(results: list[PartResult]) -> list[PartResult]:
    return [leaf for r in results for leaf in (r.changeset if r.changeset is not None else [r])]


def _render(results: list[PartResult], boundary: str) -> str:
    lines: list[str] = []
    for result in results:
        lines.append(f"--{boundary}")
        if result.changeset is None:
            lines.extend(_http_part(result))
            continue
        inner = f"changesetresponse_{uuid.uuid4()}"
        lines.extend([f"Content-Type: multipart/mixed; boundary={inner}", ""])
        for part in result.changeset:
            lines.append(f"--{inner}")
            lines.extend(_http_part(part))
        lines.append(f"--{inner}--")
    lines.append(f"--{boundary}--")
    return CRLF.join(lines) + CRLF


def _http_part(result: PartResult) -> list[str]:
    resp = result.response
    assert resp is not None
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if result.content_id:
        lines.append(f"Content-ID: {result.content_id}")
    lines.extend(["", f"HTTP/1.1 {resp.status} {_reason(resp.status)}"])
    headers = Headers(resp.headers.items())
    if "OData-Version" not in headers:
        headers.set("OData-Version", "4.0")
    entity_id = headers.get("OData-EntityId")
    if entity_id and "Location" not in headers:
        headers.set("Location", entity_id)  # batch parts carry both [PA-BATCH]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    lines.extend(["", resp.body.decode("utf-8", errors="replace")])
    return lines


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
