"""Paging cookies (``$skiptoken``), ``@odata.nextLink`` / ``@odata.deltaLink`` and delta tokens.

The ``$skiptoken`` value (once URL-decoded) is Dataverse's XML paging cookie whose
``pagingcookie`` attribute is itself URL-encoded XML with lower-case escapes and upper-case GUIDs
in braces [PA-PAGE]:

    <cookie pagenumber="2" pagingcookie="%3ccookie%20page%3d%221%22%3e%3ccontactid%20last%3d%22%7bD5...%7d%22%20first%3d%22%7b49...%7d%22%20%2f%3e%3c%2fcookie%3e" istracking="False" />

Clients either GET the nextLink verbatim or split its query with ``parse_qsl`` and re-encode it
(Airbyte); both arrive here as the same decoded string, so decoding starts from that. [AIRBYTE]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import quote, unquote, unquote_plus

from .errors import ODataError

_ESCAPE = re.compile(r"%[0-9A-F]{2}")
_ATTR = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"')
_OUTER = re.compile(r"^\s*<cookie\s+((?:[A-Za-z_][\w-]*\s*=\s*\"[^\"]*\"\s*)+)/>\s*$")
_INNER = re.compile(r"^\s*<cookie\s+page\s*=\s*\"(\d+)\"\s*>(.*)</cookie>\s*$", re.S)
_ELEMENT = re.compile(r"<([A-Za-z_][\w]*)\s+([^<>]*?)/>")
_GUID = re.compile(r"^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$")
_DELTA_TOKEN = re.compile(r"^(\d+)!(\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2})$")

# Characters left literal in nextLink/deltaLink query values and paths, as Dataverse's links show
# (``$select=name,telephone1``, ``pagenumber=%222%22``): everything else is percent-encoded.
_QUERY_SAFE = "$=/,:;@!*'()~"
_PATH_SAFE = "/()'=,@$:!*;~"


class PagingCookie(NamedTuple):
    pagenumber: int  # the page this token asks for (2 for the second page)
    last_id: str  # primary key of the last row already returned (lower case, no braces)
    first_id: str  # primary key of the first row of the previous page
    istracking: bool
    primary_key: str  # element name in the inner cookie: the table's primary id column


def _lower_escapes(text: str) -> str:
    """Percent-encode everything but unreserved characters, with lower-case hex (``%3c``)."""
    return _ESCAPE.sub(lambda m: m.group(0).lower(), quote(text, safe="-_."))


def _guid(value: str, what: str) -> str:
    m = _GUID.match(value.strip())
    if m is None:
        raise ValueError(f"{what} {value!r} is not a GUID")
    return m.group(1)


def encode_skiptoken(
    pagenumber: int, entity_pk_name: str, last_id: str, first_id: str, *, istracking: bool = False
) -> str:
    """The decoded ``$skiptoken`` value for the request that fetches page ``pagenumber``."""
    if pagenumber < 2:
        raise ValueError("a skiptoken asks for page 2 or later")
    inner = (
        f'<cookie page="{pagenumber - 1}"><{entity_pk_name} last="{{{_guid(last_id, "last_id").upper()}}}" '
        f'first="{{{_guid(first_id, "first_id").upper()}}}" /></cookie>'
    )
    return (
        f'<cookie pagenumber="{pagenumber}" pagingcookie="{_lower_escapes(inner)}" '
        f'istracking="{"True" if istracking else "False"}" />'
    )


def _invalid(reason: str) -> ODataError:
    # Dataverse's wording for a corrupt paging cookie is UNCONFIRMED; 400 + the query-error code.
    return ODataError(f"The $skiptoken value is not a valid paging cookie: {reason}.")


def decode_skiptoken(value: str) -> PagingCookie:
    """Parse a decoded ``$skiptoken`` value (as ``parse_qsl`` yields it). Malformed -> 400."""
    outer = _OUTER.match(value)
    if outer is None:
        raise _invalid("expected <cookie pagenumber=\"…\" pagingcookie=\"…\" />")
    attrs = dict(_ATTR.findall(outer.group(1)))
    pagenumber = attrs.get("pagenumber", "")
    if not pagenumber.isdigit() or int(pagenumber) < 2:
        raise _invalid(f"pagenumber {pagenumber!r} is not a page number of 2 or more")
    if "pagingcookie" not in attrs:
        raise _invalid("the pagingcookie attribute is missing")
    tracking = attrs.get("istracking", "False")
    if tracking.lower() not in ("true", "false"):
        raise _invalid(f"istracking {tracking!r} is not True or False")
    # unquote_plus accepts upper- or lower-case escapes and a form-encoded space.
    inner = _INNER.match(unquote_plus(attrs["pagingcookie"]))
    if inner is None:
        raise _invalid("the inner paging cookie is not <cookie page=\"…\">…</cookie>")
    elements = _ELEMENT.findall(inner.group(2))
    if not elements:
        raise _invalid("the inner paging cookie names no primary key")
    primary_key, element_attrs = elements[-1]  # Dataverse lists the primary key last
    bounds = dict(_ATTR.findall(element_attrs))
    try:
        last_id = _guid(bounds.get("last", ""), "last")
        first_id = _guid(bounds.get("first", ""), "first")
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    return PagingCookie(int(pagenumber), last_id.lower(), first_id.lower(), tracking.lower() == "true", primary_key)


# --- links ---------------------------------------------------------------------------------------


def _query_string(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='$@')}={quote(v, safe=_QUERY_SAFE)}" for k, v in pairs)


def _origin(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + quote(path, safe=_PATH_SAFE)


def build_next_link(base_url: str, path: str, query_pairs: Iterable[tuple[str, str]], skiptoken: str) -> str:
    """``@odata.nextLink``: the request URL (absolute on ``base_url``, its scheme+host) with every
    decoded query option re-encoded, any old ``$skiptoken`` dropped and the new one appended."""
    pairs = [(k, v) for k, v in query_pairs if k != "$skiptoken"]
    pairs.append(("$skiptoken", skiptoken))
    return f"{_origin(base_url, path)}?{_query_string(pairs)}"


def build_delta_link(base_url: str, path: str, select: str | None, token: str) -> str:
    """``@odata.deltaLink``: ``$select`` kept, ``$deltatoken`` with lower-case escapes
    (``919042%2108%2f22%2f2017%2008%3a10%3a44``) as Dataverse serialises it. [PA-CT]"""
    parts = [f"$select={quote(select, safe=_QUERY_SAFE)}"] if select else []
    parts.append(f"$deltatoken={_lower_escapes(token)}")
    return f"{_origin(base_url, path)}?{'&'.join(parts)}"


# --- delta tokens ------------------------------------------------------------------------------


def format_delta_token(version: int, issued_at: datetime) -> str:
    """``<rowversion>!<MM/dd/yyyy HH:mm:ss>`` in UTC, e.g. ``919042!08/22/2017 08:10:44``. [PA-CT]"""
    if issued_at.tzinfo is not None:
        issued_at = issued_at.astimezone(UTC)
    return f"{version}!{issued_at:%m/%d/%Y %H:%M:%S}"


def read_delta_token(query_value: str) -> str:
    """The decoded ``$deltatoken`` (what ``parse_qsl`` yields), validated. A value that is still
    percent-encoded (a client that encoded the link twice) is decoded once more. Malformed -> 400;
    Dataverse's wording for that is UNCONFIRMED."""
    token = query_value.strip()
    if "%" in token:
        token = unquote(token)
    m = _DELTA_TOKEN.match(token)
    if m is not None:
        try:
            datetime.strptime(m.group(2), "%m/%d/%Y %H:%M:%S")
            return token
        except ValueError:
            pass
    raise ODataError(f"The $deltatoken value '{query_value}' is not a valid delta token.")


def delta_token_parts(token: str) -> tuple[int, datetime]:
    """(row version, issue time in UTC) of a token returned by ``read_delta_token``."""
    version, _, stamp = read_delta_token(token).partition("!")
    return int(version), datetime.strptime(stamp, "%m/%d/%Y %H:%M:%S").replace(tzinfo=UTC)
