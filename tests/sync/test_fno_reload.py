"""Worker benefit enrollments from the emulator's finance-and-operations OData endpoint: several pages
and companies, 429s survived, deletes reconciled on a complete read and none applied on a short read;
its own token audience; F&O errors mapped to clear messages (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from dataverse_emulator.testing import authenticated_session, client_settings
from hr_dataverse.catalog import load_catalog, parse_catalog
from hr_dataverse.dataverse import AuthError, ForeignHostError
from hr_dataverse.fno import FnoClient, FnoError, FnoSettings, short_read, sync_fno_entity
from hr_dataverse.fno.entity import natural_key, parse_entity
from hr_dataverse.sync import DeleteGuardSettings
from hr_dataverse.warehouse.table_rules import load_table_rules

KEYS = ("dataAreaId", "PersonnelNumber", "PlanPeriodId", "PlanId", "CoverageOptionId", "ValidFrom", "ValidTo")
FAST = {"max_attempts": 6, "deadline": 60.0, "backoff_base": 0.05, "backoff_max": 0.2}


@pytest.fixture
def fno_client():
    made: list[FnoClient] = []

    def make(emu, **settings) -> FnoClient:
        made.append(FnoClient(client_settings(emu.info, **FAST), FnoSettings(emu.info["fno_url"], **settings)))
        return made[-1]

    yield make
    for client in made:
        client.close()


def enrollment_spec():
    return next(t for t in load_catalog() if t.fno_entity)


def live_keys(wh, table: str) -> set[str]:
    target = wh.table(table)
    with wh.engine.connect() as conn:
        return set(conn.scalars(sa.select(target.c.fno_key).where(target.c._deleted_at.is_(None))))


def test_enrollments_land_over_pages_and_companies_surviving_429s(emulator_factory, fno_client, warehouses):
    emu = emulator_factory(scale=120, fno_page_size=40, fno_throttle_every=3, fno_retry_after_seconds=0)
    client, wh, spec = fno_client(emu), warehouses.open(), enrollment_spec()
    source = emu.app.fno.rows()
    assert spec.fno_entity == "BenefitsPlanEmployeesV2" and spec.category == "benefits" and not spec.required

    first = sync_fno_entity(client, wh, spec, run_id="run-1")

    assert first.status == "success" and first.warnings == []
    assert first.rows_total == first.rows_upserted == first.source_count == len(source) > 80
    assert first.pages == -(-len(source) // 40) >= 3 and first.throttled >= 1
    assert live_keys(wh, spec.name) == {natural_key(r, KEYS) for r in source}
    target = wh.table(spec.name)
    with wh.engine.connect() as conn:
        companies = set(conn.scalars(sa.select(target.c.dataareaid).distinct()))
        row = conn.execute(sa.select(target).where(target.c.status == "Waived").limit(1)).mappings().first()
    assert len(companies) >= 3  # cross-company
    assert row is not None and float(row["amountemployee"]) == 0.0 and row["validto"].year == 2154
    rules = load_table_rules(wh)[spec.name]
    assert rules.keys == (tuple(k.lower() for k in KEYS),)

    # A row gone in F&O is soft-deleted by the next full reload (the read was complete).
    gone = source.pop(5)
    second = sync_fno_entity(client, wh, spec, run_id="run-2")
    assert (second.rows_deleted, second.rows_total, second.status) == (1, len(source), "success")
    assert natural_key(gone, KEYS) not in live_keys(wh, spec.name)

    # A short read (the page chain ends early, the count says all) applies no deletes.
    source.pop(0)
    emu.app.config.fno_truncate_after_pages = 1
    third = sync_fno_entity(client, wh, spec, run_id="run-3")
    assert third.rows_deleted == 0 and third.status == "warning" and third.rows_total == len(source) + 1
    assert "no rows were marked deleted" in third.warnings[0] and f"counted {len(source)}" in third.warnings[0]
    assert third.deletes_held is not None and third.deletes_held["cause"] == "short_read"  # the task fails on it
    assert wh.get_state(spec.name).mode == "full_every_run"

    # A complete read that would delete more than the allowance is held by the same guard as Dataverse loads,
    # and goes through when a person allows the mass deletion for the run.
    emu.app.config.fno_truncate_after_pages = None
    del source[:3]
    strict = DeleteGuardSettings(max_delete_fraction=0.0, min_delete_allowance=2)
    fourth = sync_fno_entity(client, wh, spec, run_id="run-4", guard=strict)
    assert fourth.rows_deleted == 0 and fourth.deletes_held["cause"] == "mass_delete"
    assert len(live_keys(wh, spec.name)) == len(source) + 4
    fifth = sync_fno_entity(client, wh, spec, run_id="run-5", guard=replace(strict, allow_mass_delete=True))
    assert fifth.rows_deleted == 4 and fifth.deletes_held is None and fifth.status == "success"
    assert live_keys(wh, spec.name) == {natural_key(r, KEYS) for r in source}


def test_without_cross_company_only_the_default_company_is_read(emulator_factory, fno_client):
    emu = emulator_factory(scale=60)
    client = fno_client(emu, cross_company=False)
    rows = [r for page in client.pages("BenefitsPlanEmployeesV2") for r in page.rows]
    assert rows and {r["dataAreaId"] for r in rows} == {"usmf"}
    assert client.count("BenefitsPlanEmployeesV2") == len(rows) < len(emu.app.fno.rows())


def test_its_own_token_audience(emulator, fno_client):
    info = emulator.info
    dataverse = authenticated_session(info)  # a token for the Dataverse URL
    assert dataverse.get(f"{info['fno_url']}/data/$metadata").status_code == 401
    client = fno_client(emulator)
    client.metadata()  # the F&O token works on F&O ...
    token = client.tokens.get_token().token
    refused = dataverse.get(f"{info['api_url']}WhoAmI", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401  # ... and not on Dataverse


def test_f_and_o_errors_name_what_to_fix(emulator, fno_client):
    client = fno_client(emulator)
    with pytest.raises(FnoError, match=r"no data entity collection .*fno_entity") as missing:
        list(client.pages("BenefitsPlanEmployees"))
    assert missing.value.status == 404
    with pytest.raises(FnoError, match="no data entity collection 'WorkerEnrolledBenefits'"):
        parse_entity(client.metadata(), "WorkerEnrolledBenefits")
    with pytest.raises(FnoError, match=r"HTTP 501 .*does not implement the query option \$filter"):
        client.get(client.url("BenefitsPlanEmployeesV2", {"$filter": "PlanId eq 'X'"}))
    with pytest.raises(FnoError, match="Could not find a property named 'Nope'"):
        list(client.pages("BenefitsPlanEmployeesV2", ["Nope"]))
    with pytest.raises(ForeignHostError):  # a nextLink elsewhere never receives the token
        client.get("https://elsewhere.example/data/BenefitsPlanEmployeesV2?$skip=10")
    wrong = FnoClient(client_settings(emulator.info, **FAST), FnoSettings(emulator.info["dataverse_url"] + "/erp"))
    with pytest.raises(AuthError) as no_token, wrong:
        wrong.metadata()
    assert no_token.value.aadsts == 500011  # the F&O URL is the token audience: a wrong one has no token
    paged = [len(p.rows) for p in client.pages("BenefitsPlanEmployeesV2")]
    top = client.get(client.url("BenefitsPlanEmployeesV2", {"$top": "3"})).json()
    assert len(top["value"]) == 3 and "@odata.nextLink" not in top and paged
    emulator.app.fno.registered_apps.clear()  # the app is not in System administration > Entra applications
    with pytest.raises(FnoError, match="Microsoft Entra applications") as refused:
        client.metadata()
    assert refused.value.status == 401


def test_catalog_entries_for_f_and_o_are_validated(tmp_path):
    def problems(entry):
        from hr_dataverse.catalog import CatalogError

        with pytest.raises(CatalogError) as exc:
            parse_catalog({"tables": [entry]}, Path("c.yaml"))
        return exc.value.problems

    assert problems({"name": "fno_x", "fno_entity": "bad name"})[0].endswith(
        "'fno_entity' must be an F&O public collection name such as BenefitsPlanEmployeesV2, got 'bad name'")
    assert "has no lookups, option sets" in problems({"name": "fno_x", "fno_entity": "X", "lookups": ["y"]})[0]
    assert "'fno_keys' needs 'fno_entity'" in problems({"name": "cdm_x", "fno_keys": ["A"]})[0]


def test_short_read_guard():
    assert short_read(100, 100) is None and short_read(101, 100) is None
    assert "1 missing" in short_read(99, 100)
    assert short_read(96, 100, tolerance=0.05) is None
    assert "could not be counted" in short_read(10, None)
    with pytest.raises(ValueError):
        short_read(1, 1, tolerance=1.5)


def test_reload_memory_does_not_grow_with_the_entity(emulator_factory, fno_client, sqlite_warehouses):
    """Pages are staged as they arrive: ten times the rows, the peak barely moves."""
    import tracemalloc

    spec, peaks = enrollment_spec(), []
    for scale in (60, 600):
        emu = emulator_factory(scale=scale, fno_page_size=25)
        client, wh = fno_client(emu), sqlite_warehouses.open(f"m{scale}")
        sync_fno_entity(client, wh, spec, run_id="warm-up")  # imports, statement caches
        emu.app.fno.rows()  # built before tracing
        tracemalloc.start()
        try:
            result = sync_fno_entity(client, wh, spec, run_id="measured")
            peaks.append((tracemalloc.get_traced_memory()[1], result.rows_total, result.pages))
        finally:
            tracemalloc.stop()
    (small, small_rows, small_pages), (large, large_rows, large_pages) = peaks
    assert large_rows > 8 * small_rows and large_pages > 8 * small_pages
    assert large < 2 * small, peaks
