"""Admin endpoints the benchmark uses: bulk changes (the "1% changed" step) and the request totals
with the latency the model charged (the benchmark's floor)."""

from __future__ import annotations

import pytest
import requests

TABLES = ["cdm_worker", "cdm_employment", "cdm_company"]


def _admin(emu, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, emu.info["dataverse_url"] + path, verify=emu.info["ca_bundle"], timeout=10,
                            **kwargs)


def test_bulk_changes_update_and_delete_a_fraction_of_each_table(emulator) -> None:
    store = emulator.app.store
    before = {t: store.count(t) for t in TABLES}
    version = store.current_version()
    resp = _admin(emulator, "POST", "/_emulator/bulk-changes",
                  json={"tables": TABLES, "fraction": 0.25, "delete_share": 0.5, "seed": 7})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"updated", "deleted", "total"}
    for table in TABLES:
        changed = max(1, round(0.25 * before[table]))
        assert body["updated"][table] + body["deleted"][table] == changed
        assert body["deleted"][table] == round(0.5 * changed)
        assert store.count(table) == before[table] - body["deleted"][table]
        rows, deletes = store.changes_since(table, version)
        assert (len(rows), len(deletes)) == (body["updated"][table], body["deleted"][table])
        primary_name = emulator.app.schema[table].primary_name
        assert all(r[primary_name].startswith("Changed 7-") for r in rows)
    assert body["total"] == sum(body["updated"].values()) + sum(body["deleted"].values())


def test_bulk_changes_are_reproducible_for_a_seed(emulator_factory) -> None:
    chosen = []
    for _ in range(2):
        emu = emulator_factory(scale=30)
        version = emu.app.store.current_version()
        assert _admin(emu, "POST", "/_emulator/bulk-changes",
                      json={"tables": ["cdm_worker"], "fraction": 0.2, "seed": 3}).status_code == 200
        rows, deletes = emu.app.store.changes_since("cdm_worker", version)
        chosen.append((sorted(r["cdm_workerid"] for r in rows), sorted(i for i, _ in deletes)))
    assert chosen[0] == chosen[1]
    assert chosen[0][0] and chosen[0][1]


@pytest.mark.parametrize(("body", "message"), [
    ([1], "must be a JSON object"),
    ({"tables": ["cdm_worker"], "fraction": 0.1, "colour": 1}, "Unknown bulk-change option(s) ['colour']"),
    ({"tables": [], "fraction": 0.1}, '"tables" must be a non-empty list'),
    ({"tables": ["cdm_nope"], "fraction": 0.1}, "Unknown table(s) ['cdm_nope']"),
    ({"tables": ["cdm_worker"], "fraction": 1.5}, '"fraction" must be a number between 0 and 1, got 1.5'),
    ({"tables": ["cdm_worker"], "fraction": 0.1, "delete_share": "half"}, '"delete_share" must be a number'),
    ({"tables": ["cdm_worker"], "fraction": 0.1, "seed": 1.5}, '"seed" must be an integer'),
])
def test_bulk_changes_refuse_bad_input_with_a_clear_message(emulator, body, message: str) -> None:
    version = emulator.app.store.current_version()
    resp = _admin(emulator, "POST", "/_emulator/bulk-changes", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "emulator"
    assert message in resp.json()["error"]["message"]
    assert emulator.app.store.current_version() == version  # nothing changed


def test_request_totals_include_rows_and_the_modelled_latency(emulator_factory) -> None:
    from dataverse_emulator.testing import authenticated_session

    emu = emulator_factory(latency_ms=2.0, latency_per_row_ms=0.01)
    session = authenticated_session(emu.info)
    returned = []
    for path, prefer in (("cdm_workers?$select=cdm_workernumber", "odata.maxpagesize=25"),
                         ("cdm_companies?$select=cdm_name", None)):
        resp = session.get(emu.info["api_url"] + path, headers={"Prefer": prefer} if prefer else {})
        assert resp.status_code == 200
        returned.append(len(resp.json()["value"]))
    assert _admin(emu, "GET", "/_emulator/no-such-route").status_code == 404  # admin calls are not counted
    resp = _admin(emu, "GET", "/_emulator/requests")
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 2 and body["by_status"] == {"200": 2}
    assert body["rows"] == sum(returned) == 25 + 4
    assert body["latency_seconds"] == pytest.approx(sum(0.002 + 0.00001 * n for n in returned), abs=1e-6)


def test_requests_refused_by_service_protection_are_not_charged_latency(emulator_factory) -> None:
    from dataverse_emulator.testing import authenticated_session

    emu = emulator_factory(latency_ms=1.0)
    session = authenticated_session(emu.info)
    ok = session.get(emu.info["api_url"] + "WhoAmI")
    assert ok.status_code == 200
    emu.app.protection.limits = type(emu.app.protection.limits)(requests=1, execution_ms=10**9, concurrent=52)
    refused = session.get(emu.info["api_url"] + "WhoAmI")
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    body = _admin(emu, "GET", "/_emulator/requests").json()
    assert body["by_status"] == {"200": 1, "429": 1}
    assert body["latency_seconds"] == pytest.approx(0.001, abs=1e-6)


def test_request_totals_give_each_change_tracking_chain_its_server_time(emulator_factory) -> None:
    """The benchmark's bound: a tracked read's pages come one after another, so its server time per
    entity set is a chain no concurrency shortens; untracked reads are not part of it."""
    from dataverse_emulator.testing import authenticated_session

    emu = emulator_factory(latency_ms=2.0, latency_per_row_ms=0.01)
    session = authenticated_session(emu.info)
    url, served = emu.info["api_url"] + "cdm_workers", []
    headers = {"Prefer": "odata.track-changes,odata.maxpagesize=5"}
    while url:
        page = session.get(url, headers=headers)
        assert page.status_code == 200
        served.append(len(page.json()["value"]))
        url = page.json().get("@odata.nextLink")
    assert len(served) > 1  # a chain of several pages
    assert session.get(emu.info["api_url"] + "cdm_companies?$select=cdm_name").status_code == 200  # untracked
    body = _admin(emu, "GET", "/_emulator/requests").json()
    path = next(iter(body["tracked_latency_by_path"]))
    assert list(body["tracked_latency_by_path"]) == [path] and path.endswith("/cdm_workers")
    assert body["tracked_latency_by_path"][path] == pytest.approx(sum(0.002 + 0.00001 * n for n in served), abs=1e-6)
