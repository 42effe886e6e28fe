"""Synthetic data: referential integrity, determinism, value domains, realistic mess, speed."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from dataverse_emulator.clock import Clock
from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.datagen import APOSTROPHE_EMPLOYEE, TEST_EMPLOYEE, generate
from dataverse_emulator.schema import (
    BOOLEAN,
    DATETIME,
    DECIMAL,
    INTEGER,
    MEMO,
    OPTION_TYPES,
    STRING,
    build_schema,
)
from dataverse_emulator.schema_coverage import COVERAGE_TABLES

GUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _generate(**overrides):
    config = EmulatorConfig(**{"scale": 300, **overrides})
    schema = build_schema(config)
    return config, schema, generate(config, schema, Clock())


@pytest.fixture(scope="module")
def data():
    return _generate()


def _ids(schema, rows):
    return {name: {r[schema[name].primary_id] for r in table_rows} for name, table_rows in rows.items()}


def test_every_lookup_resolves(data):
    _, schema, rows = data
    ids = _ids(schema, rows)
    checked = 0
    for name, table_rows in rows.items():
        lookups = [a for a in schema[name].lookups() if a.targets[0] in schema]
        for row in table_rows:
            for attr in lookups:
                value = row.get(attr.logical_name)
                if value is not None:
                    assert value in ids[attr.targets[0]], (name, attr.logical_name, value)
                    checked += 1
    assert checked > 300 * 8  # workers' rows carry several lookups each


def test_primary_keys_unique_guids_and_business_keys_unique(data):
    _, schema, rows = data
    for name, table_rows in rows.items():
        pks = [r[schema[name].primary_id] for r in table_rows]
        assert len(pks) == len(set(pks)), name
        assert all(GUID_V4.match(pk) for pk in pks), name
        for key in schema[name].alternate_keys:
            values = [tuple(r.get(c) for c in key) for r in table_rows]
            assert len(values) == len(set(values)), (name, key)


def test_values_match_their_column_definitions(data):
    _, schema, rows = data
    for name, table_rows in rows.items():
        attrs = schema[name].attributes
        required = [a.logical_name for a in attrs.values()
                    if a.required and a.logical_name not in ("statecode",)]
        for row in table_rows:
            assert set(row) <= set(attrs), (name, set(row) - set(attrs))
            assert all(col in row for col in required), (name, [c for c in required if c not in row])
            for col, value in row.items():
                attr = attrs[col]
                assert value is not None, (name, col)  # nulls are absent keys
                kind = attr.attribute_type
                if kind in OPTION_TYPES and kind != BOOLEAN:
                    assert value in attr.options, (name, col, value)
                elif kind == BOOLEAN:
                    assert isinstance(value, bool), (name, col)
                elif kind == INTEGER:
                    assert isinstance(value, int) and attr.min_value <= value <= attr.max_value, (name, col)
                elif kind == DECIMAL:
                    assert isinstance(value, float), (name, col)
                elif kind in (STRING, MEMO):
                    assert isinstance(value, str) and 0 < len(value) <= attr.max_length, (name, col, value)
                elif kind == DATETIME:
                    assert (DATE_RE if attr.date_only else DATETIME_RE).match(value), (name, col, value)


def test_deterministic_under_a_seed():
    first = _generate(scale=50)[2]
    again = _generate(scale=50)[2]
    other = _generate(scale=50, seed=7)[2]
    strip = lambda rows: {n: [{k: v for k, v in r.items() if k not in ("createdon", "modifiedon")}  # noqa: E731
                              for r in t] for n, t in rows.items()}
    assert strip(first) == strip(again)
    assert first["cdm_worker"][0]["cdm_workerid"] != other["cdm_worker"][0]["cdm_workerid"]


def test_realistic_mess(data):
    _, _, rows = data
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    workers = {w["cdm_workerid"]: w for w in rows["cdm_worker"]}
    employments = defaultdict(list)
    for e in rows["cdm_employment"]:
        employments[e["cdm_workerid"]].append(e)
    unemployed = [w for wid, w in workers.items() if wid not in employments]
    assert unemployed and all("cdm_profession" not in w for w in unemployed)
    terminated = [wid for wid, es in employments.items()
                  if all(e.get("cdm_employmentenddate", "9999") < today for e in es)]
    assert terminated
    assert all(workers[wid]["cdm_status"] == 754400001 for wid in terminated)
    current = [wid for wid, es in employments.items()
               if any("cdm_employmentenddate" not in e and e["cdm_employmentstartdate"] <= today for e in es)]
    assert all(workers[wid]["cdm_status"] == 754400000 for wid in current)
    certs = rows["mshr_hcmworkercertificateentity"]
    assert any(c.get("mshr_enddate", "9999") < today for c in certs)  # expired
    assert any("mshr_enddate" not in c for c in certs)  # never expire
    levels = Counter(s["mshr_leveltype"] for s in rows["mshr_hcmworkerskillentity"])
    assert levels[200000000] > 3 * 300 and levels[200000001] > 0
    names = [w["cdm_fullname"] for w in workers.values()]
    assert any("'" in n for n in names) and any(not n.isascii() for n in names)
    assert any("cdm_birthdate" not in w for w in workers.values())  # optional fields left null
    apostrophe = next(w for w in workers.values() if w["cdm_workernumber"] == APOSTROPHE_EMPLOYEE)
    assert apostrophe["cdm_lastname"] == "O'Brien"


def test_test_employee_is_active_employed_and_skilled(data):
    _, _, rows = data
    worker = next(w for w in rows["cdm_worker"] if w["cdm_workernumber"] == TEST_EMPLOYEE)
    assert worker["cdm_status"] == 754400000 and worker["cdm_profession"]
    wid = worker["cdm_workerid"]
    assert any(e["cdm_workerid"] == wid and "cdm_employmentenddate" not in e for e in rows["cdm_employment"])
    assert sum(s["mshr_fk_worker_id"] == wid for s in rows["mshr_hcmworkerskillentity"]) >= 3


def test_profession_is_the_assigned_positions_job_title(data):
    _, _, rows = data
    jobs = {j["cdm_jobid"]: j for j in rows["cdm_job"]}
    positions = {p["cdm_jobpositionid"]: p for p in rows["cdm_jobposition"]}
    workers = {w["cdm_workerid"]: w for w in rows["cdm_worker"]}
    matches = [workers[a["cdm_workerid"]].get("cdm_profession")
               == jobs[positions[a["cdm_jobpositionid"]]["cdm_jobid"]]["cdm_description"]
               for a in rows["cdm_positionworkerassignmentmap"]]
    assert len(matches) > 250 and sum(matches) / len(matches) > 0.9


def test_catalogues_and_rating_models(data):
    _, _, rows = data
    assert len(rows["cdm_company"]) >= 2 and all(len(c["cdm_companycode"]) == 4 for c in rows["cdm_company"])
    assert any("cdm_parentdepartmentid" in d for d in rows["cdm_department"])
    assert 50 <= len(rows["mshr_hcmskillentity"]) <= 80
    assert 15 <= len(rows["mshr_hcmcertificatetypeentity"]) <= 25
    models = rows["mshr_hcmratingmodelentity"]
    assert 2 <= len(models) <= 3
    for model in models:
        levels = [lv for lv in rows["mshr_hcmratinglevelentity"]
                  if lv["mshr_fk_ratingmodelentity_id"] == model["mshr_hcmratingmodelentityid"]]
        factors = [lv["mshr_factor"] for lv in levels]
        assert 3 <= len(levels) <= 5 and len(set(factors)) == len(factors)
        assert all(lv["mshr_ratingmodelid"] == model["mshr_ratingmodelid"] for lv in levels)
    skills = {s["mshr_hcmskillentityid"]: s for s in rows["mshr_hcmskillentity"]}
    level_model = {lv["mshr_hcmratinglevelentityid"]: lv["mshr_fk_ratingmodelentity_id"]
                   for lv in rows["mshr_hcmratinglevelentity"]}
    for ws in rows["mshr_hcmworkerskillentity"]:  # a worker's level belongs to the skill's model
        assert level_model[ws["mshr_fk_ratinglevel_id"]] == skills[ws["mshr_fk_skill_id"]]["mshr_fk_ratingmodel_id"]


def test_urs_starting_state(data):
    config, _, rows = data
    column = config.bookableresource_worker_column
    linked = [r for r in rows["bookableresource"] if column in r]
    assert 0.04 * 300 <= len(linked) <= 0.2 * 300
    active = {w["cdm_workerid"] for w in rows["cdm_worker"] if w["cdm_status"] == 754400000}
    assert all(r[column] in active for r in linked)
    unrelated = {r["resourcetype"] for r in rows["bookableresource"] if column not in r}
    assert {4, 7} <= unrelated  # equipment and a facility
    assert 0 < len(rows["characteristic"]) <= 3 and len(rows["bookableresourcecharacteristic"]) <= 3


def test_prefix_setting_changes_generated_columns():
    _, schema, rows = _generate(scale=20, hr_virtual_prefix="mserp_")
    skill_rows = rows["mserp_hcmworkerskillentity"]
    assert skill_rows and all(set(r) <= set(schema["mserp_hcmworkerskillentity"].attributes) for r in skill_rows)
    assert "mshr_hcmworkerskillentity" not in rows


def test_scale_2000_is_fast_and_about_18_rows_per_worker():
    """About 12 rows per worker in the 16 original tables, 5-6 more in compensation and leave."""
    config = EmulatorConfig(scale=2000)
    schema = build_schema(config)
    started = time.perf_counter()
    rows = generate(config, schema, Clock())
    elapsed = time.perf_counter() - started
    total = sum(len(t) for t in rows.values())
    assert len(rows["cdm_worker"]) == 2000
    coverage = sum(len(rows[t]) for t in COVERAGE_TABLES)
    assert 10 <= (total - coverage) / 2000 <= 14
    assert 4 <= coverage / 2000 <= 7
    assert elapsed < 3.0, f"generation took {elapsed:.2f}s"
