"""Transport-neutral request/response types every emulator handler uses.

Handlers are plain functions ``(Request) -> Response`` so they can be unit-tested without a
socket; ``server.py`` adapts them to a real TLS server.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson


def dump_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON. orjson writes a 5,000-row page ~10x faster than ``json``; what it refuses
    (integers beyond 64 bits, non-string keys) goes through ``json``, which writes the same text."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Headers:
    """Case-insensitive multi-valued headers (HTTP allows repeats, e.g. two ``Prefer`` lines)."""

    def __init__(self, items: list[tuple[str, str]] | dict[str, str] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        if isinstance(items, dict):
            items = list(items.items())
        for k, v in items or []:
            self._items.append((k, v))

    def get(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        for k, v in self._items:
            if k.lower() == low:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self._items if k.lower() == low]

    def add(self, name: str, value: str) -> None:
        self._items.append((name, value))

    def set(self, name: str, value: str) -> None:
        low = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != low]
        self._items.append((name, value))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:  # never print Authorization values
        safe = [(k, "<redacted>" if k.lower() == "authorization" else v) for k, v in self._items]
        return f"Headers({safe!r})"


def parse_prefer(headers: Headers) -> dict[str, str | None]:
    """Merge every ``Prefer`` header (comma-separated or repeated) into {preference: value}.

    ``odata.include-annotations="*"`` keeps its value without quotes; bare preferences map to None.
    """
    prefs: dict[str, str | None] = {}
    for line in headers.get_all("Prefer"):
        for part in _split_commas_outside_quotes(line):
            part = part.strip()
            if not part:
                continue
            if "=" in part:
                k, v = part.split("=", 1)
                prefs[k.strip().lower()] = v.strip().strip('"')
            else:
                prefs[part.lower()] = None
    return prefs


def _split_commas_outside_quotes(text: str) -> list[str]:
    out, buf, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return out


@dataclass
class Request:
    method: str
    path: str  # percent-decoded path, no query string
    raw_query: str = ""  # the query exactly as received (may use %20 or + for spaces)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    scheme_host: str = ""  # e.g. "https://127.0.0.1:8443" (as the client addressed us)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def query(self) -> dict[str, str]:
        """Decoded query options. ``+`` is a space (clients that re-encode nextLinks use it)."""
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    @property
    def query_list(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_query, keep_blank_values=True)

    @property
    def prefer(self) -> dict[str, str | None]:
        return parse_prefer(self.headers)

    @property
    def url(self) -> str:
        return self.scheme_host + self.path + (("?" + self.raw_query) if self.raw_query else "")

    def json_body(self) -> Any:
        """Parse the body as JSON; raises ``BadJsonBody`` (the caller maps it to Dataverse's 400)."""
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadJsonBody(str(exc)) from exc


class BadJsonBody(ValueError):
    pass


@dataclass
class Response:
    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    # Rows returned in the body, for the latency model (base + per-row cost).
    rows: int = 0

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        *,
        content_type: str = "application/json; odata.metadata=minimal",
        rows: int = 0,
    ) -> Response:
        h = Headers(headers)
        if "Content-Type" not in h:
            h.add("Content-Type", content_type)
        return cls(status=status, headers=h, body=dump_json(payload), rows=rows)

    @classmethod
    def empty(cls, status: int = 204, headers: dict[str, str] | list[tuple[str, str]] | None = None) -> Response:
        return cls(status=status, headers=Headers(headers), body=b"")

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status=status, headers=Headers({"Content-Type": content_type}), body=text.encode("utf-8"))

    def json_payload(self) -> Any:
        return json.loads(self.body or b"null")


def dataverse_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """Dataverse's error body: ``{"error":{"code":"0x…","message":"…"}}`` (code is not the status)."""
    h = {"OData-Version": "4.0", **(headers or {})}
    return Response.json(status, {"error": {"code": code, "message": message}}, h)


def path_segments(path: str) -> list[str]:
    return [unquote(s) for s in path.split("/") if s]
