"""HR mutations: each change lands in the store and shows up in changes_since; bad input is named."""

from __future__ import annotations

import pytest
from emulator_helpers import generated_store

from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.datagen import TEST_EMPLOYEE
from dataverse_emulator.mutations import (
    MutationError,
    add_skill,
    apply,
    change_job_title,
    delete_worker,
    expire_certificate,
    hire,
    remove_skill,
    renew_certificate,
    rerate_skill,
    terminate,
)

WS, WC = "mshr_hcmworkerskillentity", "mshr_hcmworkercertificateentity"


@pytest.fixture
def store():
    return generated_store(EmulatorConfig(scale=60))


def _worker(store, number=TEST_EMPLOYEE):
    return next(w for w in store.iter_rows("cdm_worker") if w["cdm_workernumber"] == number)


def _rows(store, table, **match):
    return [r for r in store.iter_rows(table) if all(r.get(k) == v for k, v in match.items())]


def _changed(store, since):
    """{table: (changed rows, deleted ids)} for every table that changed after ``since``."""
    out = {}
    for table in store.schema:
        rows, deletes = store.changes_since(table, since)
        if rows or deletes:
            out[table] = (rows, [d[0] for d in deletes])
    return out


def _assert_result_matches_changes(store, result, changed):
    """Every change the result reports is visible through changes_since."""
    for change in result["changes"]:
        rows, deletes = changed[change["table"]]
        pk = store.schema[change["table"]].primary_id
        assert change["id"] in (deletes if change["op"] == "delete" else [r[pk] for r in rows]), change


def test_change_job_title(store):
    since = store.current_version()
    result = change_job_title(store, TEST_EMPLOYEE, "Senior Analyst")
    changed = _changed(store, since)
    assert list(changed) == ["cdm_worker"]
    rows, deletes = changed["cdm_worker"]
    assert [(r["cdm_workernumber"], r["cdm_profession"]) for r in rows] == [(TEST_EMPLOYEE, "Senior Analyst")]
    assert deletes == []
    assert result == {"action": "change_job_title", "worker_number": TEST_EMPLOYEE,
                      "changes": [{"table": "cdm_worker", "id": rows[0]["cdm_workerid"], "op": "update"}]}


def test_unknown_worker_and_bad_title_are_named(store):
    with pytest.raises(MutationError, match="Unknown worker number '999999'"):
        change_job_title(store, "999999", "x")
    with pytest.raises(MutationError, match="job title must be a non-empty string"):
        change_job_title(store, TEST_EMPLOYEE, "  ")
    with pytest.raises(MutationError, match="longer than 100"):
        change_job_title(store, TEST_EMPLOYEE, "x" * 101)


def test_hire_creates_worker_employment_position_and_assignment(store):
    since = store.current_version()
    result = hire(store, first_name="Zoë", last_name="O'Neill", company_code="demf", job_title="Drone Pilot")
    assert result["worker_number"] == "000061"
    changed = _changed(store, since)
    assert set(changed) == {"cdm_job", "cdm_jobposition", "cdm_worker", "cdm_employment",
                            "cdm_positionworkerassignmentmap"}
    _assert_result_matches_changes(store, result, changed)
    worker = changed["cdm_worker"][0][0]
    assert (worker["cdm_fullname"], worker["cdm_profession"], worker["cdm_status"]) == (
        "Zoë O'Neill", "Drone Pilot", 754400000)
    employment = changed["cdm_employment"][0][0]
    company = next(c for c in store.iter_rows("cdm_company") if c["cdm_companycode"] == "DEMF")
    assert employment["cdm_workerid"] == worker["cdm_workerid"]
    assert employment["cdm_companyid"] == company["cdm_companyid"] and "cdm_employmentenddate" not in employment
    assignment = changed["cdm_positionworkerassignmentmap"][0][0]
    position = changed["cdm_jobposition"][0][0]
    assert assignment["cdm_jobpositionid"] == position["cdm_jobpositionid"]
    assert position["cdm_jobid"] == changed["cdm_job"][0][0]["cdm_jobid"]
    # An existing title reuses its job; the next hire gets the next number.
    since = store.current_version()
    again = hire(store, first_name="Ann", last_name="Lee", job_title="drone pilot")
    assert again["worker_number"] == "000062" and "cdm_job" not in _changed(store, since)
    with pytest.raises(MutationError, match="Unknown company code 'XXXX'"):
        hire(store, first_name="A", last_name="B", company_code="XXXX")


def test_terminate_ends_employment_and_deactivates_worker(store):
    since = store.current_version()
    result = terminate(store, TEST_EMPLOYEE, end_date="2030-01-31")
    changed = _changed(store, since)
    _assert_result_matches_changes(store, result, changed)
    assert changed["cdm_worker"][0][0]["cdm_status"] == 754400001
    employment = changed["cdm_employment"][0][0]
    assert employment["cdm_employmentenddate"] == employment["cdm_validto"] == "2030-01-31T00:00:00Z"
    assert all(a["cdm_validto"] == "2030-01-31T00:00:00Z" for a in changed["cdm_positionworkerassignmentmap"][0])
    terminate(store, TEST_EMPLOYEE, end_date="2029-12-31")  # still employed until 2030: moves the end
    with pytest.raises(MutationError, match="no current employment"):
        terminate(store, TEST_EMPLOYEE, end_date="2031-06-01")
    with pytest.raises(MutationError, match="Invalid date 'soon'"):
        terminate(store, "000002", end_date="soon")


def test_delete_worker_cascades_and_unlinks_resources(store):
    worker = _worker(store)
    wid = worker["cdm_workerid"]
    column = "cdm_workerid"  # the configured worker lookup on bookableresource
    resource = next(iter(store.iter_rows("bookableresource")))
    store.update("bookableresource", resource["bookableresourceid"], {column: wid})
    since = store.current_version()
    result = delete_worker(store, TEST_EMPLOYEE)
    changed = _changed(store, since)
    _assert_result_matches_changes(store, result, changed)
    assert changed["cdm_worker"][1] == [wid]
    for table in ("cdm_employment", "cdm_workerpersonaldetail", WS):
        assert changed[table][1], table
    assert changed["bookableresource"][0][0]["bookableresourceid"] == resource["bookableresourceid"]
    assert column not in store.get("bookableresource", resource["bookableresourceid"])
    for table in store.schema:  # nothing references the deleted worker any more
        for attr in store.schema[table].lookups():
            assert not _rows(store, table, **{attr.logical_name: wid}), (table, attr.logical_name)
    with pytest.raises(MutationError, match="Unknown worker number"):
        delete_worker(store, TEST_EMPLOYEE)


def test_add_rerate_and_remove_skill(store):
    worker = _worker(store)
    owned = {r["mshr_skillid"] for r in _rows(store, WS, mshr_fk_worker_id=worker["cdm_workerid"])}
    skill = next(s for s in store.iter_rows("mshr_hcmskillentity")
                 if s["mshr_skillid"] not in owned and s["mshr_ratingid"] == "Skills")
    name = skill["mshr_skillid"]
    since = store.current_version()
    result = add_skill(store, TEST_EMPLOYEE, name.upper(), "3")
    rows, _ = _changed(store, since)[WS]
    assert [(r["mshr_skillid"], r["mshr_levelid"], r["mshr_leveltype"]) for r in rows] == [(name, "3", 200000000)]
    assert result["changes"] == [{"table": WS, "id": rows[0]["mshr_hcmworkerskillentityid"], "op": "create"}]
    level = store.get("mshr_hcmratinglevelentity", rows[0]["mshr_fk_ratinglevel_id"])
    assert level["mshr_ratinglevelid"] == "3" and level["mshr_fk_ratingmodelentity_id"] == skill["mshr_fk_ratingmodel_id"]
    with pytest.raises(MutationError, match="already has skill"):
        add_skill(store, TEST_EMPLOYEE, name, "4")

    since = store.current_version()
    rerate_skill(store, TEST_EMPLOYEE, name, "5")
    rows, _ = _changed(store, since)[WS]
    assert [r["mshr_levelid"] for r in rows] == ["5"]

    since = store.current_version()
    remove_skill(store, TEST_EMPLOYEE, skill["mshr_hcmskillentityid"])  # by GUID works too
    rows, deletes = _changed(store, since)[WS]
    assert rows == [] and deletes == [result["changes"][0]["id"]]
    with pytest.raises(MutationError, match="has no rating on skill"):
        rerate_skill(store, TEST_EMPLOYEE, name, "2")


def test_skill_errors_name_what_is_unknown(store):
    with pytest.raises(MutationError, match="Unknown skill 'Juggling'"):
        add_skill(store, TEST_EMPLOYEE, "Juggling", "1")
    with pytest.raises(MutationError, match=r"Unknown rating level 'Z' for skill 'German'.*levels: A, B, C, N"):
        add_skill(store, TEST_EMPLOYEE, "German", "Z")
    with pytest.raises(MutationError, match="has no skill 'Welding'"):
        remove_skill(store, _first_worker_without(store, "Welding"), "Welding")


def _first_worker_without(store, skill_id):
    having = {r["mshr_personnelnumber"] for r in _rows(store, WS, mshr_skillid=skill_id)}
    return next(w["cdm_workernumber"] for w in store.iter_rows("cdm_worker") if w["cdm_workernumber"] not in having)


def test_renew_and_expire_certificate(store):
    cert = next(iter(store.iter_rows(WC)))
    number, ctype = cert["mshr_personnelnumber"], cert["mshr_certificatetypeid"]
    since = store.current_version()
    renew_certificate(store, number, ctype.lower(), "2031-05-01")
    rows, _ = _changed(store, since)[WC]
    assert [(r["mshr_certificatetypeid"], r["mshr_enddate"]) for r in rows] == [(ctype, "2031-05-01T00:00:00Z")]

    since = store.current_version()
    expire_certificate(store, number, ctype)
    rows, _ = _changed(store, since)[WC]
    assert rows[0]["mshr_enddate"] < store.clock.now().strftime("%Y-%m-%dT00:00:00Z")
    with pytest.raises(MutationError, match="Unknown certificate type 'NOPE'"):
        renew_certificate(store, number, "NOPE", "2031-01-01")
    without = next(w["cdm_workernumber"] for w in store.iter_rows("cdm_worker")
                   if not _rows(store, WC, mshr_personnelnumber=w["cdm_workernumber"], mshr_certificatetypeid="PMP"))
    with pytest.raises(MutationError, match="has no certificate of type 'PMP'"):
        expire_certificate(store, without, "PMP")


def test_apply_dispatches_json_specs(store):
    since = store.current_version()
    result = apply(store, {"action": "change_job_title", "worker_number": TEST_EMPLOYEE, "title": "Senior Analyst"})
    assert result["action"] == "change_job_title"
    assert _changed(store, since)["cdm_worker"][0][0]["cdm_profession"] == "Senior Analyst"
    hired = apply(store, {"action": "hire", "first_name": "Kim", "last_name": "Park"})
    assert _worker(store, hired["worker_number"])["cdm_fullname"] == "Kim Park"


@pytest.mark.parametrize(("spec", "message"), [
    ({"worker_number": "000001"}, 'with an "action"'),
    ("change_job_title", 'with an "action"'),
    ({"action": "promote"}, "Unknown action 'promote'"),
    ({"action": "change_job_title", "worker_number": "000001", "title": "x", "salary": 1}, r"unknown field\(s\) \['salary'\]"),
    ({"action": "change_job_title", "worker_number": "000001"}, "missing a required argument: 'new_title'"),
    ({"action": "add_skill", "worker_number": "000001", "skill": "Python", "level": "x" * 3}, "Unknown rating level"),
])
def test_apply_rejects_bad_specs_clearly(store, spec, message):
    with pytest.raises(MutationError, match=message):
        apply(store, spec)
