"""Key-range reads seek in the sorted keys instead of scanning, with the same rows and pages as a scan."""

from __future__ import annotations

import pytest
from emulator_helpers import generated_store

from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.guid_order import sql_guid_key
from dataverse_emulator.odata.filter import TableResolver, parse_filter
from dataverse_emulator.odata.key_range import KeySeek, key_range, key_seek
from dataverse_emulator.store import Store

PK = "cdm_workerid"
# A sorts before B in SQL Server's GUID order (last group first), though not as text
A = "ffffffff-0000-0000-0000-000000000001"
B = "00000000-0000-0000-0000-0000000000ff"


@pytest.mark.parametrize(("text", "expected"), [
    (f"{PK} ge {A} and {PK} lt {B}", (A, B)),
    (f"({PK} ge {A}) and ({PK} le {B})", (A, B)),
    (f"{PK} gt {A}", (A, None)),
    (f"{PK} lt {B}", (None, B)),
    # the tighter of two bounds on one side wins
    (f"{PK} ge {A} and {PK} ge {B}", (B, None)),
    (f"{PK} lt {A} and {PK} lt {B}", (None, A)),
])
def test_primary_key_ranges_are_recognised(text, expected):
    assert key_range(text, PK) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (f"{PK} ge {A} and {PK} lt {B}", KeySeek(A, B, False, True)),
    (f"({PK} gt {A}) and ({PK} le {B})", KeySeek(A, B, True, False)),
    # at equal keys the exclusive operator wins, whatever the order or the case of the GUID
    (f"{PK} ge {A} and {PK} gt {A.upper()}", KeySeek(A, None, True, False)),
    (f"{PK} lt {B} and {PK} le {B}", KeySeek(None, B, False, True)),
    # the tighter bound wins with its own operator
    (f"{PK} gt {A} and {PK} ge {B}", KeySeek(B, None, False, False)),
])
def test_exact_key_seeks_know_exclusive_bounds(text, expected):
    assert key_seek(text, PK) == expected


@pytest.mark.parametrize("text", [
    f"{PK} ge {A} or {PK} lt {B}",
    f"{PK} ge {A} and {PK} lt {B} or {PK} eq null",
    f"{PK} ge {A} and statecode eq 0",
    f"{PK} eq {A}",
    f"cdm_otherid ge {A}",
    f"{PK} ge '{A}'",
    f"{PK} ge @lo",
    f"not ({PK} ge {A})",
    f"{PK} ge 0000",
])
def test_other_filters_scan(text):
    assert key_range(text, PK) is None


@pytest.fixture(scope="module")
def store():
    return generated_store(EmulatorConfig(scale=40))


def _pages(store: Store, table: str, predicate, bounds, size: int, exclusive=(False, False)) -> list[list[dict]]:
    pages, after = [], None
    while True:
        page = store.page(table, after_id=after, limit=size, predicate=predicate, key_range=bounds,
                          exclusive=exclusive)
        if not page:
            return pages
        pages.append(page)
        after = page[-1][PK]


@pytest.mark.parametrize(("lo", "hi", "op_lo", "op_hi"), [
    (0.2, 0.7, "ge", "lt"), (0.0, 0.4, "gt", "le"), (0.5, None, "ge", None), (None, 0.3, None, "lt"),
    (0.9, 0.1, "ge", "lt"), (0.3, 0.3, "ge", "le"), (0.3, 0.3, "gt", "le"), (0.3, 0.3, "ge", "lt"),
])
def test_seek_returns_the_pages_a_scan_returns(store, lo, hi, op_lo, op_hi):
    table = store.schema["cdm_worker"]
    ids = [r[PK] for r in store.iter_rows("cdm_worker")]
    assert len(ids) > 20
    lo = None if lo is None else int(lo * len(ids))
    hi = None if hi is None else int(hi * len(ids))
    clauses = ([f"{PK} {op_lo} {ids[lo].upper()}"] if lo is not None else []) + \
              ([f"{PK} {op_hi} {ids[hi]}"] if hi is not None else [])
    expr = parse_filter(" and ".join(clauses), TableResolver(table, store.schema))
    bounds = key_range(expr.text, PK)
    assert bounds is not None
    seek = _pages(store, "cdm_worker", expr.evaluate, bounds, 7)
    scan = _pages(store, "cdm_worker", expr.evaluate, (None, None), 7)
    assert seek == scan
    exact = key_seek(expr.text, PK)  # the seek alone, no predicate: what the read path serves
    assert exact is not None and (exact.lowest, exact.highest) == bounds
    assert _pages(store, "cdm_worker", None, bounds, 7,
                  exclusive=(exact.lowest_exclusive, exact.highest_exclusive)) == scan
    expected = [i for i in ids if expr.evaluate({PK: i})]
    assert [r[PK] for page in seek for r in page] == expected
    assert (len(expected) > 0) == (lo is None or hi is None or lo < hi or (lo == hi and (op_lo, op_hi) == ("ge", "le")))


def _read_all(dv, url: str) -> list[dict]:
    bodies = []
    while url:
        resp = dv.get(url, prefer="odata.maxpagesize=6,odata.include-annotations=\"*\"")
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"] == "application/json; odata.metadata=minimal"
        bodies.append(resp.json())
        url = bodies[-1].get("@odata.nextLink")
    return bodies


def test_key_range_over_the_wire_matches_the_general_path(shared_dv):
    ids = sorted((r[PK] for r in shared_dv.app.store.iter_rows("cdm_worker")), key=sql_guid_key)
    lo, hi = ids[len(ids) // 4], ids[3 * len(ids) // 4]
    seek = _read_all(shared_dv, f"cdm_workers?$filter={PK} ge {lo} and {PK} lt {hi}")
    # `or <never true>` keeps the same rows but is not a pure key range: the general (scanning) path
    scan = _read_all(shared_dv, f"cdm_workers?$filter={PK} ge {lo} and {PK} lt {hi} or {PK} eq null")
    assert [b["value"] for b in seek] == [b["value"] for b in scan]
    assert [r[PK] for b in seek for r in b["value"]] == ids[len(ids) // 4: 3 * len(ids) // 4]
    assert len(seek) > 1 and all(len(b["value"]) == 6 for b in seek[:-1])
    assert all("@odata.nextLink" in b for b in seek[:-1]) and "@odata.nextLink" not in seek[-1]
