"""``$batch`` over TLS: multipart parsing, change sets (atomic, Content-ID references), error handling, limits."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

JSON = "application/json; odata.metadata=minimal"
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# --- building requests ---------------------------------------------------------------------------


def op(method: str, url: str, body: Any = None, *, content_id: str | None = None,
       headers: dict[str, str] | None = None) -> list[str]:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{method} {url} HTTP/1.1", "Accept: application/json"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += ["", json.dumps(body) if body is not None else ""]
    return lines


def change_set(*ops: list[str], boundary: str = "changeset_a1") -> list[str]:
    lines = [f"Content-Type: multipart/mixed; boundary={boundary}", ""]
    for part in ops:
        lines += [f"--{boundary}", *part]
    return [*lines, f"--{boundary}--"]


def batch_body(*parts: list[str], boundary: str = "batch_a1", eol: str = "\r\n") -> bytes:
    lines: list[str] = []
    for part in parts:
        lines += [f"--{boundary}", *part]
    return (eol.join([*lines, f"--{boundary}--"]) + eol).encode()


def post_batch(dv, body: bytes, *, boundary: str = "batch_a1", prefer: str | None = None):
    headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "Accept": "application/json",
               "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
    if prefer:
        headers["Prefer"] = prefer
    return dv.session.post(dv.api + "$batch", data=body, headers=headers)


# --- reading responses (independent of the emulator's parser) ------------------------------------


def parse_batch_response(resp) -> list[dict]:
    match = re.fullmatch(rf"multipart/mixed; boundary=(batchresponse_{GUID})", resp.headers["Content-Type"])
    assert match, resp.headers["Content-Type"]
    assert resp.headers["OData-Version"] == "4.0"
    return _parts(resp.text, match.group(1))


def _parts(text: str, boundary: str) -> list[dict]:
    closing = f"--{boundary}--\r\n"
    assert text.endswith(closing), text[-200:]
    parts = []
    for chunk in text[: -len(closing)].split(f"--{boundary}\r\n")[1:]:
        chunk = chunk.removesuffix("\r\n")
        head, _, content = chunk.partition("\r\n\r\n")
        mime = dict(line.split(": ", 1) for line in head.split("\r\n"))
        inner = re.fullmatch(rf"multipart/mixed; boundary=(changesetresponse_{GUID})", mime["Content-Type"])
        if inner:
            parts.append({"mime": mime, "parts": _parts(content + "\r\n", inner.group(1))})
            continue
        assert mime["Content-Type"] == "application/http" and mime["Content-Transfer-Encoding"] == "binary"
        status_line, _, rest = content.partition("\r\n")
        header_text, _, body = rest.partition("\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in header_text.split("\r\n") if line)
        status = int(re.fullmatch(r"HTTP/1\.1 (\d{3}) .+", status_line).group(1))
        parts.append({"mime": mime, "status": status, "status_line": status_line, "headers": headers,
                      "body": body.removesuffix("\r\n")})
    return parts


def batch_error(resp, message: str) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.headers["Content-Type"] == JSON
    assert resp.json() == {"error": {"code": "0x80060888", "message": message}}


def characteristic(name: str, kind: int = 1) -> dict:
    return {"name": name, "characteristictype": kind}


def names(dv) -> set[str]:
    return {r["name"] for r in dv.app.store.iter_rows("characteristic")}


# --- success paths -------------------------------------------------------------------------------


def test_change_set_with_content_id_bind_then_get(dv):
    body = batch_body(
        change_set(
            op("POST", "/api/data/v9.2/ratingmodels", {"name": "Batch model", "minratingvalue": 1, "maxratingvalue": 3},
               content_id="1"),
            op("POST", "/api/data/v9.2/ratingvalues", {"name": "Batch value", "value": 2, "RatingModel@odata.bind": "$1"},
               content_id="2"),
        ),
        op("GET", "ratingmodels?$select=name&$filter=name%20eq%20'Batch%20model'"),
    )
    resp = post_batch(dv, body)
    assert resp.status_code == 200, resp.text
    assert "Preference-Applied" not in resp.headers
    change, get = parse_batch_response(resp)
    assert [p["mime"]["Content-ID"] for p in change["parts"]] == ["1", "2"]
    for part, entity_set in zip(change["parts"], ["ratingmodels", "ratingvalues"], strict=True):
        assert part["status_line"] == "HTTP/1.1 204 No Content" and part["body"] == ""
        assert part["headers"]["OData-Version"] == "4.0"
        assert re.fullmatch(rf"{re.escape(dv.api)}{entity_set}\({GUID}\)", part["headers"]["OData-EntityId"])
        assert part["headers"]["Location"] == part["headers"]["OData-EntityId"]
    model_id = change["parts"][0]["headers"]["OData-EntityId"][-37:-1]
    value_id = change["parts"][1]["headers"]["OData-EntityId"][-37:-1]
    assert dv.app.store.get("ratingvalue", value_id)["ratingmodel"] == model_id
    assert get["status"] == 200 and get["headers"]["Content-Type"] == JSON
    assert [row["ratingmodelid"] for row in json.loads(get["body"])["value"]] == [model_id]


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_url_forms_and_line_endings(shared_dv, eol):
    absolute = shared_dv.api + "WhoAmI"
    body = batch_body(op("GET", absolute), op("GET", "/api/data/v9.2/WhoAmI"), op("GET", "WhoAmI"), eol=eol)
    resp = post_batch(shared_dv, body)
    assert resp.status_code == 200, resp.text
    parts = parse_batch_response(resp)
    user = shared_dv.app.security.application_user(shared_dv.emulator.info["client_id"]).user_id
    assert [(p["status"], json.loads(p["body"])["UserId"]) for p in parts] == [(200, user)] * 3


def test_content_id_reference_as_url(dv):
    body = batch_body(change_set(
        op("POST", "characteristics", characteristic("Referenced"), content_id="new"),
        op("PATCH", "$new", {"description": "patched through $new"}, headers={"If-Match": "*"}),
    ))
    resp = post_batch(dv, body)
    assert resp.status_code == 200, resp.text
    (change,) = parse_batch_response(resp)
    assert [p["status"] for p in change["parts"]] == [204, 204]
    row_id = change["parts"][0]["headers"]["OData-EntityId"][-37:-1]
    assert dv.app.store.get("characteristic", row_id)["description"] == "patched through $new"


# --- failures ------------------------------------------------------------------------------------


def test_failing_change_set_rolls_back_everything(dv):
    existing = next(r for r in dv.app.store.iter_rows("characteristic") if r["name"] == "Customer service")
    assert dv.app.store.find("characteristic", "name", "Doomed") == []  # builds the index the batch updates
    version = dv.app.store.current_version()
    body = batch_body(change_set(
        op("POST", "characteristics", characteristic("Doomed"), content_id="1"),
        op("PATCH", f"characteristics({existing['characteristicid']})", {"description": "doomed"},
           headers={"If-Match": "*"}, content_id="2"),
        op("POST", "characteristics", characteristic("Bad option", 7), content_id="3"),
    ))
    resp = post_batch(dv, body)
    assert resp.status_code == 400
    (failed,) = parse_batch_response(resp)
    assert failed["status_line"] == "HTTP/1.1 400 Bad Request"
    assert re.fullmatch(GUID, failed["headers"]["REQ_ID"]) and failed["headers"]["Content-Type"] == JSON
    assert json.loads(failed["body"])["error"]["code"] == "0x80044331"
    assert "Doomed" not in names(dv) and dv.app.store.find("characteristic", "name", "Doomed") == []
    assert dv.app.store.get("characteristic", existing["characteristicid"]) == existing
    assert dv.app.store.current_version() == version
    assert dv.app.store.changes_since("characteristic", version) == ([], [])


@pytest.mark.parametrize("prefer", [None, "odata.continue-on-error"])
def test_first_failure_stops_unless_continue_on_error(dv, prefer):
    body = batch_body(
        op("POST", "characteristics", characteristic("Before")),
        op("POST", "characteristics", {"nme": "typo"}),
        op("POST", "characteristics", characteristic("After")),
    )
    resp = post_batch(dv, body, prefer=prefer)
    parts = parse_batch_response(resp)
    if prefer is None:
        assert resp.status_code == 400 and "Preference-Applied" not in resp.headers
        assert [p["status"] for p in parts] == [204, 400]
        assert "After" not in names(dv)
    else:
        assert resp.status_code == 200 and resp.headers["Preference-Applied"] == "odata.continue-on-error"
        assert [p["status"] for p in parts] == [204, 400, 204]
        assert "After" in names(dv)
    assert "Before" in names(dv)
    error = json.loads(parts[1]["body"])["error"]
    assert error["code"] == "0x80048d19" and "The property 'nme' does not exist" in error["message"]
    assert "REQ_ID" in parts[1]["headers"] and "REQ_ID" not in parts[0]["headers"]


@pytest.mark.parametrize("second", [
    op("PATCH", "$2", {"description": "x"}),
    op("POST", "ratingvalues", {"name": "V", "value": 1, "RatingModel@odata.bind": "$2"}),
])
def test_unknown_content_id_reference_is_400(dv, second):
    body = batch_body(change_set(
        op("POST", "ratingmodels", {"name": "Ref model", "minratingvalue": 1, "maxratingvalue": 3}, content_id="1"),
        second,
    ))
    resp = post_batch(dv, body)
    assert resp.status_code == 400
    (failed,) = parse_batch_response(resp)
    assert json.loads(failed["body"]) == {"error": {
        "code": "0x80060888", "message": "Content-ID Reference: '$2' does not exist in the batch context."}}
    assert all(r["name"] != "Ref model" for r in dv.app.store.iter_rows("ratingmodel"))


def test_get_inside_change_set_refuses_the_batch(dv):
    body = batch_body(
        op("POST", "characteristics", characteristic("Never")),
        change_set(op("GET", "characteristics")),
    )
    batch_error(post_batch(dv, body),
                "An invalid HTTP method 'GET' was detected for a request in a change set. Requests in change sets "
                "only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'.")
    assert "Never" not in names(dv)


def test_more_than_1000_requests_is_400(shared_dv):
    body = batch_body(*[op("GET", "WhoAmI") for _ in range(1001)])
    batch_error(post_batch(shared_dv, body),
                "The batch contains 1001 requests; the maximum number of requests in a batch is 1000.")


def test_limit_counts_requests_inside_change_sets(dv, monkeypatch):
    monkeypatch.setattr(dv.app.config, "max_batch_parts", 3)
    ok = batch_body(op("GET", "WhoAmI"), change_set(op("POST", "characteristics", characteristic("A")),
                                                    op("POST", "characteristics", characteristic("B"))))
    assert post_batch(dv, ok).status_code == 200
    over = batch_body(op("GET", "WhoAmI"), change_set(*[op("POST", "characteristics", characteristic(n))
                                                       for n in "CDE"]))
    batch_error(post_batch(dv, over),
                "The batch contains 4 requests; the maximum number of requests in a batch is 3.")
    assert not {"C", "D", "E"} & names(dv)


GOOD_PART = "\r\n".join(op("GET", "WhoAmI"))


@pytest.mark.parametrize("content_type, body, message", [
    ("application/json", b"{}",
     "The $batch request must have the Content-Type 'multipart/mixed; boundary=<boundary>'; got 'application/json'."),
    ("multipart/mixed", b"--x\r\n--x--\r\n",
     "The $batch request has no boundary parameter in its Content-Type 'multipart/mixed'."),
    ("multipart/mixed; boundary=b", f"--b\r\n{GOOD_PART}\r\n".encode(),
     "The multipart body has no closing delimiter '--b--'."),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n",
     "Each batch part must have Content-Type 'application/http' (or be a multipart/mixed change set); "
     "got 'text/plain'."),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-Type: application/http\r\n\r\nnot a request line\r\n--b--\r\n",
     "The request line 'not a request line' is invalid. The request line at the start of each operation must "
     "have the format 'METHOD URL VERSION'."),
    ("multipart/mixed; boundary=\"b\"", b"--b\r\nContent-Type application/http\r\n\r\nGET WhoAmI HTTP/1.1\r\n--b--\r\n",
     "Malformed header line in a batch part: 'Content-Type application/http'."),
])
def test_malformed_batch_is_400(shared_dv, content_type, body, message):
    resp = shared_dv.session.post(shared_dv.api + "$batch", data=body, headers={"Content-Type": content_type})
    batch_error(resp, message)


def test_batch_counts_as_one_request(dv):
    body = batch_body(*[op("GET", "WhoAmI") for _ in range(5)])
    first = post_batch(dv, body)
    dv.app.request_log.clear()
    second = post_batch(dv, body)
    assert first.status_code == second.status_code == 200
    assert [(e.method, e.path) for e in dv.app.request_log] == [("POST", "/api/data/v9.2/$batch")]
    burst = "x-ms-ratelimit-burst-remaining-xrm-requests"
    assert int(first.headers[burst]) - int(second.headers[burst]) == 1


def test_nested_batch_part_is_refused(shared_dv):
    resp = post_batch(shared_dv, batch_body(op("POST", "$batch", {})), prefer="odata.continue-on-error")
    (part,) = parse_batch_response(resp)
    assert part["status"] == 400
    assert json.loads(part["body"])["error"]["message"] == "A $batch request cannot contain another $batch request."


def test_unknown_row_in_batch_is_404_part(shared_dv):
    missing = str(uuid.uuid4())
    resp = post_batch(shared_dv, batch_body(op("DELETE", f"characteristics({missing})")))
    assert resp.status_code == 400
    (part,) = parse_batch_response(resp)
    assert part["status_line"] == "HTTP/1.1 404 Not Found"
    assert json.loads(part["body"])["error"] == {
        "code": "0x80040217", "message": f"characteristic With Id = {missing} Does Not Exist"}


def test_change_set_inside_change_set_is_refused(shared_dv):
    nested = change_set(change_set(op("POST", "characteristics", characteristic("Nested")), boundary="changeset_b2"))
    batch_error(post_batch(shared_dv, batch_body(nested)), "A change set cannot contain another change set or batch.")
    assert "Nested" not in names(shared_dv)
