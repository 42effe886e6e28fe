"""HR → URS mapping against the emulator over TLS, HR data landed by the sync engine in SQLite."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from shared_helpers import drop_schemas
from urs_expectation import (
    eligible_workers,
    expected_after_mapping,
    expected_catalogue,
    expected_links,
    urs_snapshot,
)

from dataverse_emulator import mutations
from hr_dataverse.dataverse import writes
from hr_dataverse.urs import MappingSettings, MappingState
from hr_dataverse.urs.rules import CHARACTERISTIC, RATINGMODEL, RATINGVALUE, RESOURCE_CHARACTERISTIC, TARGETS

P = "mshr_"


def assert_matches(actual: dict[str, Counter], expected: dict[str, Counter]) -> None:
    for table, rows in expected.items():
        assert actual[table] == rows, (f"{table}: missing {sorted((rows - actual[table]).elements())[:5]}, "
                                       f"unexpected {sorted((actual[table] - rows).elements())[:5]}")


def test_first_run_leaves_exactly_the_rows_the_hr_data_calls_for(env):
    before = urs_snapshot(env.store)
    env.app.request_log.clear()

    result = env.map()

    assert result.status == "success" and result.errors == [] and result.errors_total == 0
    expected = expected_after_mapping(env.store, before, env.today)
    assert_matches(urs_snapshot(env.store), expected)
    skill_links = sum(n for k, n in expected["link"].items() if k[2] == 1)
    assert skill_links > 100 and expected["ratingvalue"] and expected["characteristic"]
    # Workers whose resource existed already were adopted, not duplicated.
    linked_before = [k for k in before["resource"] if k[0] in eligible_workers(env.store, env.today)]
    assert linked_before and result.done["bookableresource"]["adopt"] == len(linked_before)
    # Every write reached a URS table; the only refusals are the bulk-support probes.
    writes = env.writes()
    assert writes and all(e.method == "POST" for e in writes)
    refused = [e for e in writes if e.status >= 400]
    assert all(e.path.endswith("/Microsoft.Dynamics.CRM.UpsertMultiple") and e.status == 400 for e in refused)
    assert result.write_requests == len(writes)
    assert result.requests >= len(writes)  # plus the reads looking for rows to adopt


def test_mapping_state_links_every_hr_row_to_its_dataverse_row(env):
    env.map()
    state = MappingState(env.warehouse)
    resources = state.rows("bookableresource")
    eligible = eligible_workers(env.store, env.today)
    assert set(resources) == set(eligible)
    for worker_id, mapped in resources.items():
        row = env.store.get("bookableresource", mapped.dataverse_id)
        assert row is not None and row["cdm_workerid"] == worker_id and row["statecode"] == 0
        assert mapped.active and mapped.origin in ("created", "adopted") and len(mapped.content_hash) == 64
    for target in TARGETS:
        for mapped in state.rows(target.logical_name).values():
            assert env.store.get(target.logical_name, mapped.dataverse_id) is not None, mapped
    links = state.rows("bookableresourcecharacteristic")
    assert len(links) == sum(expected_links(env.store, eligible, env.today).values())
    assert {m.scope for m in links.values()} <= set(eligible)


def test_second_run_without_hr_change_sends_no_write(env):
    env.map()
    env.app.request_log.clear()

    again = env.map()
    full = env.map(full_remap=True)

    assert env.writes() == [], [(e.method, e.path) for e in env.writes()]
    assert again.status == full.status == "success"
    assert again.incremental and not full.incremental
    assert again.write_requests == full.write_requests == 0
    assert again.requests == full.requests == 0  # nothing new to look up either
    assert all(n == 0 for counts in full.plan.counts.values() for n in counts.values())


def _worker_number(store, worker_id):
    return store.get("cdm_worker", worker_id)["cdm_workernumber"]


def _check_eligible_workers(env, before):
    """Catalogues unchanged, one active resource per eligible worker, their links exactly as HR says."""
    after = urs_snapshot(env.store)
    catalogue = expected_catalogue(env.store)
    for table in ("ratingmodel", "ratingvalue", "characteristic"):
        assert after[table] == before[table] + catalogue[table], table
    workers = eligible_workers(env.store, env.today)
    for worker_id, worker in workers.items():
        assert after["resource"][(worker_id, worker["cdm_fullname"], 0)] == 1
    links = Counter({k: n for k, n in after["link"].items() if k[0] in workers})
    assert links == expected_links(env.store, workers, env.today)
    return after


def _step(env, before, mutation, **expect_counts):
    """Apply one HR change, sync, map incrementally; the plan holds exactly ``expect_counts`` writes."""
    mutation()
    env.sync()
    env.app.request_log.clear()
    result = env.map()
    assert result.status == "success" and result.incremental, result.errors
    planned = {f"{t}.{k}": n for t, counts in result.plan.counts.items() for k, n in counts.items() if n}
    assert planned == expect_counts
    assert len(env.writes()) == result.write_requests >= 1
    return result, _check_eligible_workers(env, before)


def test_hr_changes_propagate_after_sync_and_mapping(env):
    store, today = env.store, env.today
    before = urs_snapshot(store)
    env.map()
    workers = sorted(eligible_workers(store, today))
    skills = {s[f"{P}hcmskillentityid"]: s for s in store.iter_rows(f"{P}hcmskillentity")}

    def actual_skills(worker_id):
        rows = [r for r in store.find(f"{P}hcmworkerskillentity", f"{P}fk_worker_id", worker_id)
                if r[f"{P}leveltype"] == 200000000]
        return Counter(r[f"{P}fk_skill_id"] for r in rows), rows

    def certificates(worker_id):
        return list(store.find(f"{P}hcmworkercertificateentity", f"{P}fk_worker_id", worker_id))

    # A new skill on a worker: one link with the level's rating value.
    a = workers[0]
    held, _ = actual_skills(a)
    new_skill = next(s for s in skills.values() if s[f"{P}ratingid"] == "Skills" and s[f"{P}hcmskillentityid"] not in held)
    _, after = _step(env, before, lambda: mutations.add_skill(store, _worker_number(store, a),
                                                              new_skill[f"{P}skillid"], "4"),
                     **{"bookableresourcecharacteristic.create": 1})
    assert after["link"][(a, new_skill[f"{P}skillid"], 1, "Advanced")] == 1

    # A raised rating: the link is updated in place.
    _step(env, before, lambda: mutations.rerate_skill(store, _worker_number(store, a), new_skill[f"{P}skillid"], "5"),
          **{"bookableresourcecharacteristic.update": 1})
    after = urs_snapshot(store)
    assert after["link"][(a, new_skill[f"{P}skillid"], 1, "Expert")] == 1
    assert after["link"][(a, new_skill[f"{P}skillid"], 1, "Advanced")] == 0

    # A renewed certificate: an expired certification comes back.
    expired = next((w, c) for w in workers[1:] for c in certificates(w)
                   if c.get(f"{P}enddate") and c[f"{P}enddate"][:10] < today.isoformat()
                   and len([x for x in certificates(w) if x[f"{P}certificatetypeid"] == c[f"{P}certificatetypeid"]]) == 1)
    b, cert = expired
    code = cert[f"{P}certificatetypeid"]
    assert urs_snapshot(store)["link"][(b, code, 2, None)] == 0
    _step(env, before, lambda: mutations.renew_certificate(store, _worker_number(store, b), code,
                                                           (today + timedelta(days=365)).isoformat()),
          **{"bookableresourcecharacteristic.create": 1})
    assert urs_snapshot(store)["link"][(b, code, 2, None)] == 1

    # An expired certificate: the certification is removed (default policy).
    _step(env, before, lambda: mutations.expire_certificate(store, _worker_number(store, b), code),
          **{"bookableresourcecharacteristic.delete": 1})
    assert urs_snapshot(store)["link"][(b, code, 2, None)] == 0

    # A deleted skill: its link goes.
    e = workers[2]
    held, rows = actual_skills(e)
    gone = next(s for s, n in held.items() if n == 1)
    _step(env, before, lambda: mutations.remove_skill(store, _worker_number(store, e), skills[gone][f"{P}skillid"]),
          **{"bookableresourcecharacteristic.delete": 1})
    assert not [k for k in urs_snapshot(store)["link"] if k[0] == e and k[1] == skills[gone][f"{P}skillid"]]

    # A termination: the resource is deactivated, never deleted; its characteristics stay.
    d = workers[3]
    links_before = Counter({k: n for k, n in urs_snapshot(store)["link"].items() if k[0] == d})
    name = store.get("cdm_worker", d)["cdm_fullname"]
    _step(env, before, lambda: mutations.terminate(store, _worker_number(store, d)),
          **{"bookableresource.deactivate": 1})
    after = urs_snapshot(store)
    assert after["resource"][(d, name, 1)] == 1 and after["resource"][(d, name, 0)] == 0
    assert Counter({k: n for k, n in after["link"].items() if k[0] == d}) == links_before

    # A deleted worker: HR clears the Worker lookup; the mapping still finds and deactivates the resource.
    f = workers[4]
    resource_id = next(r["bookableresourceid"] for r in store.iter_rows("bookableresource") if r.get("cdm_workerid") == f)
    _step(env, before, lambda: mutations.delete_worker(store, _worker_number(store, f)),
          **{"bookableresource.deactivate": 1})
    row = store.get("bookableresource", resource_id)
    assert row["statecode"] == 1 and row["statuscode"] == 2


def test_certificates_expire_without_any_hr_change(env):
    env.map()
    workers = eligible_workers(env.store, env.today)
    ends = sorted(c[f"{P}enddate"][:10] for w in workers for c in env.store.find(
        f"{P}hcmworkercertificateentity", f"{P}fk_worker_id", w)
        if c.get(f"{P}enddate") and c[f"{P}enddate"][:10] >= env.today.isoformat())
    later = date.fromisoformat(ends[0]) + timedelta(days=1)  # the first valid certificate has just expired
    env.app.request_log.clear()

    result = env.map(today=later)  # no sync, no HR change: only the date moved

    assert result.status == "success" and result.incremental
    planned = {t: {k: n for k, n in c.items() if n} for t, c in result.plan.counts.items()}
    assert planned == {"ratingmodel": {}, "ratingvalue": {}, "characteristic": {}, "bookableresource": {},
                       "bookableresourcecharacteristic": {"delete": result.done["bookableresourcecharacteristic"]
                                                          ["delete"]}}
    assert result.done["bookableresourcecharacteristic"]["delete"] >= 1
    links = Counter({k: n for k, n in urs_snapshot(env.store)["link"].items() if k[0] in workers})
    assert links == expected_links(env.store, eligible_workers(env.store, later), later)


def test_urs_rows_that_exist_already_are_adopted_not_duplicated(env):
    store = env.store
    workers = eligible_workers(store, env.today)
    resource = next(r for r in store.iter_rows("bookableresource") if r.get("cdm_workerid") in workers)
    worker = resource["cdm_workerid"]
    held = next(r for r in store.find(f"{P}hcmworkerskillentity", f"{P}fk_worker_id", worker)
                if r[f"{P}leveltype"] == 200000000 and r[f"{P}ratingid"] == "Skills")
    skill = held[f"{P}skillid"]
    # A resource manager entered some of it by hand before the integration ran.
    model = writes.create(env.client, RATINGMODEL, {"name": "skills", "minratingvalue": 0, "maxratingvalue": 9})
    writes.create(env.client, RATINGVALUE, {"name": "Top", "value": 9, "RatingModel@odata.bind": f"/ratingmodels({model})"})
    characteristic = writes.create(env.client, CHARACTERISTIC, {"name": skill.upper(), "characteristictype": 1})
    writes.create(env.client, RESOURCE_CHARACTERISTIC, {
        "Resource@odata.bind": f"/bookableresources({resource['bookableresourceid']})",
        "Characteristic@odata.bind": f"/characteristics({characteristic})"})

    result = env.map()

    assert result.status == "success"
    adopted = {t: c["adopt"] for t, c in result.done.items()}
    assert adopted["ratingmodel"] == adopted["ratingvalue"] == adopted["characteristic"] == 1
    assert adopted["bookableresourcecharacteristic"] == 1
    after = urs_snapshot(store)
    assert [k for k in after["ratingmodel"] if k[0].lower() == "skills"] == [("Skills", 0, 9)]
    assert sorted(k[1:] for k in after["ratingvalue"] if k[0] == "Skills") == [
        ("Advanced", 6), ("Basic", 2), ("Beginner", 0), ("Expert", 9), ("Satisfactory", 4)]
    assert sum(n for k, n in after["characteristic"].items() if k[0].lower() == skill.lower()) == 1
    assert [k for k in after["link"] if k[0] == worker and k[1].lower() == skill.lower()] == [
        (worker, skill, 1, next(lv[f"{P}description"] for lv in store.iter_rows(f"{P}hcmratinglevelentity")
                                if lv[f"{P}hcmratinglevelentityid"] == held[f"{P}fk_ratinglevel_id"]))]
    assert store.get("characteristic", characteristic)["name"] == skill  # adopted and brought in line with HR


def test_expired_certificate_policy_keep(env):
    env.map()
    workers = eligible_workers(env.store, env.today)
    result = env.map(MappingSettings(expired_certificates="keep"), full_remap=True)

    assert result.status == "success"
    links = Counter({k: n for k, n in urs_snapshot(env.store)["link"].items() if k[0] in workers})
    assert links == expected_links(env.store, workers, env.today, keep_expired=True)
    assert result.done["bookableresourcecharacteristic"]["create"] == sum(
        (expected_links(env.store, workers, env.today, keep_expired=True)
         - expected_links(env.store, workers, env.today)).values()) > 0


def test_turning_the_mapping_off_writes_nothing_and_keeps_characteristics(env):
    env.map()
    mapped = urs_snapshot(env.store)
    mutations.remove_skill(env.store, "000001", next(
        r[f"{P}skillid"] for r in env.store.iter_rows(f"{P}hcmworkerskillentity") if r[f"{P}personnelnumber"] == "000001"))
    env.sync()
    env.app.request_log.clear()

    result = env.map(MappingSettings(enabled=False))

    assert result.status == "disabled" and result.requests == 0 and len(env.app.request_log) == 0
    assert urs_snapshot(env.store) == mapped


def test_dry_run_reports_the_plan_without_writing(env):
    before = urs_snapshot(env.store)
    env.app.request_log.clear()

    dry = env.map(dry_run=True)

    assert env.writes() == [] and dry.status == "dry_run" and dry.write_requests == 0
    assert all(e.method == "GET" and e.status == 200 for e in env.app.request_log)  # adoption look-ups only
    assert urs_snapshot(env.store) == before
    assert MappingState(env.warehouse).rows("bookableresource") == {}
    counts = dry.plan.counts
    assert all(counts[t.logical_name]["create"] > 0 for t in TARGETS)
    sample = dry.plan.samples["bookableresourcecharacteristic"]["create"][0]
    assert set(sample) == {"key", "label", "dataverse_id", "body"}
    assert sample["body"]["Resource@odata.bind"].startswith("/bookableresources(")
    assert sample["body"]["Characteristic@odata.bind"].startswith("/characteristics(")
    resource = dry.plan.samples["bookableresource"]["create"][0]["body"]
    assert resource["resourcetype"] == 1 and resource["cdm_WorkerId@odata.bind"].startswith("/cdm_workers(")

    real = env.map()
    assert {t: {k: n for k, n in c.items()} for t, c in real.done.items()} == counts


def test_worker_lookup_name_is_a_setting(make_env):
    env = make_env(bookableresource_worker_column="msdyn_workerid", bookableresource_worker_navigation="msdyn_WorkerId")
    settings = MappingSettings(worker_column="msdyn_workerid", worker_navigation="msdyn_WorkerId")
    before = urs_snapshot(env.store, "msdyn_workerid")

    result = env.map(settings)

    assert result.status == "success"
    assert_matches(urs_snapshot(env.store, "msdyn_workerid"), expected_after_mapping(
        env.store, before, env.today, worker_column="msdyn_workerid"))


@pytest.mark.postgres
def test_mapping_on_postgresql(make_env, postgres_url):
    import uuid


    schema = f"urs_{uuid.uuid4().hex[:10]}"
    try:
        env = make_env(url=postgres_url, schema=schema)
        before = urs_snapshot(env.store)
        first = env.map()
        assert first.status == "success"
        assert_matches(urs_snapshot(env.store), expected_after_mapping(env.store, before, env.today))
        env.app.request_log.clear()
        assert env.map().write_requests == 0 and env.writes() == []
    finally:
        drop_schemas(postgres_url, schema)
