"""GUIDs sort the SQL Server ``uniqueidentifier`` way in paging and in ``lt/le/gt/ge`` filters."""

from __future__ import annotations

import uuid

import pytest

from dataverse_emulator.guid_order import sql_guid_key

# System.Data.SqlTypes.SqlGuid compares Guid.ToByteArray() (= UUID.bytes_le) in this byte order.
_SQLGUID_ORDER = (10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3)


def _sqlguid_bytes(guid: str) -> bytes:
    raw = uuid.UUID(guid).bytes_le
    return bytes(raw[i] for i in _SQLGUID_ORDER)


def _one_byte_guids() -> list[str]:
    """A GUID per byte position with only that byte set (0x01), in text order of the position."""
    out = []
    for position in range(16):
        digits = ["00"] * 16
        digits[position] = "01"
        h = "".join(digits)
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def test_key_orders_like_sqlguid_and_differs_from_text_order():
    ids = [str(uuid.uuid4()) for _ in range(500)] + _one_byte_guids()
    by_key = sorted(ids, key=sql_guid_key)
    assert by_key == sorted(ids, key=_sqlguid_bytes)
    assert by_key != sorted(ids)
    # Least to most significant single byte: 1st group (from the right), 2nd, 3rd, then the 4th and
    # last groups read left to right, the last group's first byte winning overall.
    singles = sorted(_one_byte_guids(), key=sql_guid_key)
    set_byte = [g.replace("-", "").index("01") // 2 for g in singles]
    assert set_byte == [0, 1, 2, 3, 4, 5, 6, 7, 9, 8, 15, 14, 13, 12, 11, 10]


def test_key_accepts_braces_and_case_and_rejects_non_guids():
    guid = str(uuid.uuid4())
    assert sql_guid_key("{" + guid.upper() + "}") == sql_guid_key(guid)
    for bad in ("not-a-guid", guid[:-1], guid[:-1] + "x"):
        with pytest.raises(ValueError):
            sql_guid_key(bad)


def _all_pages(dv, url: str) -> list[str]:
    ids = []
    while url:
        resp = dv.get(url, prefer="odata.maxpagesize=9")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        ids += [r["cdm_workerid"] for r in body["value"]]
        url = body.get("@odata.nextLink")
    return ids


def test_paging_and_key_range_filters_use_the_same_guid_order(dv):
    paged = _all_pages(dv, "cdm_workers?$select=cdm_workerid")
    expected = sorted((r["cdm_workerid"] for r in dv.app.store.iter_rows("cdm_worker")), key=sql_guid_key)
    assert paged == expected and paged != sorted(paged)
    lo, hi = paged[5], paged[17]
    in_range = _all_pages(dv, f"cdm_workers?$select=cdm_workerid&$filter=cdm_workerid ge {lo} and cdm_workerid lt {hi}")
    assert in_range == paged[5:17]
    assert _all_pages(dv, f"cdm_workers?$select=cdm_workerid&$filter=cdm_workerid gt {lo}") == paged[6:]
    assert _all_pages(dv, f"cdm_workers?$select=cdm_workerid&$filter=cdm_workerid le {hi}") == paged[:18]
    # Lookup (GUID) columns order the same way: employments of workers up to ``hi``.
    resp = dv.get(f"cdm_employments?$select=_cdm_workerid_value&$filter=_cdm_workerid_value le {hi}")
    assert resp.status_code == 200, resp.text
    got = {r["_cdm_workerid_value"] for r in resp.json()["value"]}
    employed = {r["cdm_workerid"] for r in dv.app.store.iter_rows("cdm_employment")}
    assert got == employed & set(paged[:18]) and got
