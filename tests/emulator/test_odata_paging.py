"""Paging cookie codec, nextLink/deltaLink construction and delta tokens, incl. client round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest

from dataverse_emulator.odata.errors import ODataError
from dataverse_emulator.odata.paging import (
    PagingCookie,
    build_delta_link,
    build_next_link,
    decode_skiptoken,
    delta_token_parts,
    encode_skiptoken,
    format_delta_token,
    read_delta_token,
)

LAST = "d5026a4d-9c2f-ed11-9db1-000d3a4f1b21"
FIRST = "49b0be2e-9c2f-ed11-9db1-000d3a4f1b21"
BASE = "https://127.0.0.1:8443"
PATH = "/api/data/v9.2/contacts"


def test_skiptoken_has_the_documented_shape() -> None:
    # Built by hand from the reference (§4): braces, upper-case GUIDs, lower-case inner escapes.
    inner = (
        "%3ccookie%20page%3d%221%22%3e%3ccontactid%20last%3d%22%7bD5026A4D-9C2F-ED11-9DB1-000D3A4F1B21%7d%22"
        "%20first%3d%22%7b49B0BE2E-9C2F-ED11-9DB1-000D3A4F1B21%7d%22%20%2f%3e%3c%2fcookie%3e"
    )
    expected = f'<cookie pagenumber="2" pagingcookie="{inner}" istracking="False" />'
    assert encode_skiptoken(2, "contactid", LAST, FIRST) == expected


def test_skiptoken_round_trip() -> None:
    token = encode_skiptoken(7, "cdm_workerid", "{" + LAST.upper() + "}", FIRST, istracking=True)
    assert 'page%3d%226%22' in token  # the inner cookie names the page just returned
    assert decode_skiptoken(token) == PagingCookie(7, LAST, FIRST, True, "cdm_workerid")


def _next_link(extra: list[tuple[str, str]] | None = None) -> str:
    query = [("$select", "fullname,_parentcustomerid_value"), ("$filter", "lastname eq 'O''Bryan' & co+")]
    return build_next_link(BASE, PATH, query + (extra or []), encode_skiptoken(2, "contactid", LAST, FIRST))


def test_next_link_is_absolute_and_encoded_like_dataverse() -> None:
    link = _next_link([("$skiptoken", "old-token")])
    assert link.startswith(f"{BASE}{PATH}?$select=fullname,_parentcustomerid_value&$filter=")
    assert "$filter=lastname%20eq%20'O''Bryan'%20%26%20co%2B&" in link  # & and + escaped, ' kept
    assert link.count("$skiptoken=") == 1 and "old-token" not in link
    # The documented serialisation of the skiptoken inside the link (§4).
    assert "&$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522" in link
    assert link.endswith("%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E")


def test_verbatim_and_reencoded_next_links_decode_to_the_same_cookie() -> None:
    link = _next_link()
    raw_query = urlsplit(link).query
    verbatim = dict(parse_qsl(raw_query, keep_blank_values=True))  # Drasi / Microsoft SDK: GET as-is
    reencoded_query = urlencode(parse_qsl(raw_query, keep_blank_values=True))  # Airbyte: split + re-send
    assert "+" in reencoded_query  # spaces now travel as '+'
    reencoded = dict(parse_qsl(reencoded_query, keep_blank_values=True))
    assert verbatim == reencoded
    assert verbatim["$filter"] == "lastname eq 'O''Bryan' & co+"
    cookie = decode_skiptoken(verbatim["$skiptoken"])
    assert cookie == decode_skiptoken(reencoded["$skiptoken"]) == PagingCookie(2, LAST, FIRST, False, "contactid")


def test_decode_accepts_upper_case_escapes_and_plus_spaces() -> None:
    token = encode_skiptoken(3, "contactid", LAST, FIRST)
    expected = PagingCookie(3, LAST, FIRST, False, "contactid")
    assert decode_skiptoken(token.replace("%3c", "%3C").replace("%7b", "%7B")) == expected
    assert decode_skiptoken(token.replace("%20", "+")) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "<cookie pagenumber=\"2\" />",
        "<cookie pagenumber=\"x\" pagingcookie=\"%3ccookie%20page%3d%221%22%3e%3c%2fcookie%3e\" />",
        "<cookie pagenumber=\"1\" pagingcookie=\"%3ccookie%20page%3d%221%22%3e%3c%2fcookie%3e\" />",
        "<cookie pagenumber=\"2\" pagingcookie=\"%3ccookie%20page%3d%221%22%3e%3c%2fcookie%3e\" />",
        "<cookie pagenumber=\"2\" pagingcookie=\"not xml\" istracking=\"False\" />",
        "<cookie pagenumber=\"2\" pagingcookie=\"%3ccookie%20page%3d%221%22%3e%3cid%20last%3d%22%7bnope%7d%22"
        "%20first%3d%22%7bnope%7d%22%20%2f%3e%3c%2fcookie%3e\" istracking=\"False\" />",
        "<cookie pagenumber=\"2\" pagingcookie=\"x\" istracking=\"maybe\" />",
    ],
)
def test_malformed_skiptokens_are_400s(value: str) -> None:
    with pytest.raises(ODataError) as err:
        decode_skiptoken(value)
    assert err.value.status == 400
    assert err.value.code == "0x80060888"
    assert err.value.message.startswith("The $skiptoken value is not a valid paging cookie: ")


def test_truncated_skiptokens_never_escape_as_other_errors() -> None:
    token = encode_skiptoken(2, "contactid", LAST, FIRST)
    for cut in range(0, len(token) - 1, 7):
        with pytest.raises(ODataError):
            decode_skiptoken(token[:cut])


def test_delta_link_matches_the_documented_link() -> None:
    link = build_delta_link(
        "https://contoso.api.crm.dynamics.com", "/api/data/v9.2/accounts", "name,telephone1",
        "919042!08/22/2017 08:10:44",
    )
    assert link == (
        "https://contoso.api.crm.dynamics.com/api/data/v9.2/accounts?$select=name,telephone1"
        "&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44"
    )
    assert build_delta_link(BASE, PATH, None, "1!01/02/2024 03:04:05") == (
        f"{BASE}{PATH}?$deltatoken=1%2101%2f02%2f2024%2003%3a04%3a05"
    )


def test_delta_token_survives_verbatim_reencoded_and_double_encoded_clients() -> None:
    token = "12644418993!10/06/2022 20:06:12"
    raw_query = urlsplit(build_delta_link(BASE, PATH, "name", token)).query
    verbatim = dict(parse_qsl(raw_query))["$deltatoken"]
    reencoded = dict(parse_qsl(urlencode(parse_qsl(raw_query))))["$deltatoken"]
    double = dict(parse_qsl("$deltatoken=" + quote(raw_query.split("$deltatoken=")[1], safe="")))["$deltatoken"]
    assert double != token  # still percent-encoded after one decode
    assert read_delta_token(verbatim) == read_delta_token(reencoded) == read_delta_token(double) == token


@pytest.mark.parametrize("value", ["", "abc", "919042", "919042!13/45/2017 08:10:44", "x!08/22/2017 08:10:44"])
def test_malformed_delta_tokens_are_400s(value: str) -> None:
    with pytest.raises(ODataError) as err:
        read_delta_token(value)
    assert err.value.status == 400
    assert err.value.message == f"The $deltatoken value '{value}' is not a valid delta token."


def test_delta_token_format_and_parts() -> None:
    at = datetime(2017, 8, 22, 10, 10, 44, tzinfo=timezone(timedelta(hours=2)))
    token = format_delta_token(919042, at)
    assert token == "919042!08/22/2017 08:10:44"  # UTC, MM/dd/yyyy HH:mm:ss
    assert delta_token_parts(token) == (919042, datetime(2017, 8, 22, 8, 10, 44, tzinfo=UTC))
