"""The pure mapping rules and the settings, without any server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hr_dataverse.urs import MappingConfigError, MappingSettings
from hr_dataverse.urs.rules import (
    CertificateType,
    Employment,
    HrData,
    RatingLevel,
    RatingModel,
    Scope,
    Skill,
    Worker,
    WorkerCertificate,
    WorkerSkill,
    desired_state,
)

TODAY = date(2025, 6, 15)
ACTUAL, TARGET = 200000000, 200000001
EMPLOYED, INACTIVE = 754400000, 754400001


def _typing() -> tuple[RatingModel, list[RatingLevel]]:
    model = RatingModel("m-typing", "Typing")
    return model, [RatingLevel("l-slow", "m-typing", "Typing", "1", "Slow", 2),
                   RatingLevel("l-avg", None, "Typing", "2", "Average", 1),  # found through the model id text
                   RatingLevel("l-fast", "m-typing", "Typing", "3", "Fast", 0)]


def _values(state) -> dict[str, int]:
    return {r.fields["name"]: r.fields["value"] for r in state.rows["ratingvalue"].values()}


@pytest.mark.parametrize(("rule", "values", "bounds"), [
    ("factor", {"Slow": 2, "Average": 1, "Fast": 0}, (0, 2)),
    ("rank", {"Fast": 1, "Average": 2, "Slow": 3}, (1, 3)),
])
def test_level_value_rule(rule, values, bounds):
    model, levels = _typing()
    state = desired_state(HrData(models=[model], levels=levels), Scope(), MappingSettings(level_value_rule=rule), TODAY)
    assert _values(state) == values
    row = state.rows["ratingmodel"]["m-typing"]
    assert (row.fields["minratingvalue"], row.fields["maxratingvalue"]) == bounds and row.fields["name"] == "Typing"
    assert all(r.refs["RatingModel"].key == "m-typing" and r.scope == "m-typing" for r in state.rows["ratingvalue"].values())


def test_two_levels_with_one_value_are_a_problem():
    model, levels = _typing()
    levels.append(RatingLevel("l-zz", "m-typing", "Typing", "4", "Blazing", 2))
    state = desired_state(HrData(models=[model], levels=levels), Scope(), MappingSettings(), TODAY)
    assert sorted(_values(state)) == ["Average", "Fast", "Slow"]
    assert [(p.key, "value 2 is already used by level '1'" in p.message) for p in state.problems] == [("l-zz", True)]


def test_characteristics_unique_per_type():
    hr = HrData(skills=[Skill("s1", "Excel", "Spreadsheets"), Skill("s2", "EXCEL"), Skill("s3", "Hazmat", "x" * 150)],
                certificate_types=[CertificateType("c1", "Excel", "Excel expert certificate")])
    state = desired_state(hr, Scope(), MappingSettings(), TODAY)
    rows = state.rows["characteristic"]
    assert {k: (r.fields["name"], r.fields["characteristictype"]) for k, r in rows.items()} == {
        "skill:s1": ("Excel", 1), "skill:s3": ("Hazmat", 1), "certificate:c1": ("Excel", 2)}
    assert len(rows["skill:s3"].fields["description"]) == 100 and rows["skill:s1"].fields["description"] == "Spreadsheets"
    assert [(p.key, "same name as 'Excel'" in p.message) for p in state.problems] == [("skill:s2", True)]


def _worker(wid: str, status: int = EMPLOYED) -> Worker:
    return Worker(wid, f"N{wid}", f"Name {wid}", status)


@pytest.mark.parametrize(("employment", "status", "settings", "eligible"), [
    ((date(2020, 1, 1), None), EMPLOYED, {}, True),
    ((date(2020, 1, 1), TODAY), EMPLOYED, {}, True),  # the last day of an employment still counts
    ((date(2020, 1, 1), date(2025, 6, 14)), EMPLOYED, {}, False),
    ((date(2025, 6, 16), None), EMPLOYED, {}, False),  # pending hire
    ((date(2020, 1, 1), None), INACTIVE, {}, False),  # terminated in HR today
    ((date(2020, 1, 1), None), INACTIVE, {"active_worker_status": None}, True),
    (None, EMPLOYED, {"active_employment_only": False}, True),
    (None, EMPLOYED, {}, False),
])
def test_which_workers_get_a_resource(employment, status, settings, eligible):
    employments = [Employment("e1", "w1", *employment)] if employment else []
    hr = HrData(workers=[_worker("w1", status)], employments=employments)
    state = desired_state(hr, Scope(), MappingSettings(**settings), TODAY)
    assert ("w1" in state.rows["bookableresource"]) is eligible
    assert state.scopes["bookableresourcecharacteristic"] == (frozenset({"w1"}) if eligible else frozenset())


def _links(worker_skills: list[WorkerSkill]) -> dict[str, dict[str, str]]:
    model, levels = _typing()
    hr = HrData(models=[model], levels=levels, skills=[Skill("s1", "Typing"), Skill("s2", "Filing")],
                workers=[_worker("w1")], employments=[Employment("e1", "w1", date(2020, 1, 1), None)],
                worker_skills=worker_skills)
    state = desired_state(hr, Scope(), MappingSettings(), TODAY)
    return {k: {n: r.key for n, r in row.refs.items()} for k, row in state.rows["bookableresourcecharacteristic"].items()}


def _at(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=UTC)


def test_skill_links_use_actual_ratings_and_the_latest_level():
    links = _links([
        WorkerSkill("a", "w1", "s1", "l-slow", ACTUAL, _at(1)),
        WorkerSkill("b", "w1", "s1", "l-fast", ACTUAL, _at(9)),  # re-rated later: wins
        WorkerSkill("c", "w1", "s1", "l-avg", TARGET, _at(20)),  # a target is no characteristic
        WorkerSkill("d", "w1", "s2", "gone-level", ACTUAL, _at(3)),  # its level is not live: no rating
        WorkerSkill("e", "w1", "s9", "l-fast", ACTUAL, _at(3)),  # unknown skill
    ])
    assert links == {
        "w1/skill/s1": {"Resource": "w1", "Characteristic": "skill:s1", "RatingValue": "l-fast"},
        "w1/skill/s2": {"Resource": "w1", "Characteristic": "skill:s2"},
    }


@pytest.mark.parametrize(("policy", "expected"), [("remove", {"w1/certificate/c1"}),
                                                  ("keep", {"w1/certificate/c1", "w1/certificate/c2"})])
def test_certificate_links_and_expiry_policy(policy, expected):
    hr = HrData(certificate_types=[CertificateType("c1", "FORKLIFT"), CertificateType("c2", "PMP"),
                                   CertificateType("c3", "CPA")],
                workers=[_worker("w1")], employments=[Employment("e1", "w1", date(2020, 1, 1), None)],
                worker_certificates=[
                    WorkerCertificate("x1", "w1", "c1", date(2020, 1, 1), date(2021, 1, 1)),  # expired…
                    WorkerCertificate("x2", "w1", "c1", date(2021, 1, 1), TODAY),  # …but renewed: valid today
                    WorkerCertificate("x3", "w1", "c2", date(2020, 1, 1), date(2025, 6, 14)),  # expired yesterday
                    WorkerCertificate("x4", "w1", "c3", date(2025, 7, 1), None),  # not started yet
                ])
    state = desired_state(hr, Scope(), MappingSettings(expired_certificates=policy), TODAY)
    rows = state.rows["bookableresourcecharacteristic"]
    assert set(rows) == expected
    assert all(set(r.refs) == {"Resource", "Characteristic"} for r in rows.values())


def test_scope_limits_what_is_evaluated():
    model, levels = _typing()
    hr = HrData(models=[model], levels=levels, skills=[Skill("s1", "Typing"), Skill("s2", "Filing")],
                workers=[_worker("w1"), _worker("w2")],
                employments=[Employment("e1", "w1", None, None), Employment("e2", "w2", None, None)])
    scope = Scope(models=frozenset(), skills=frozenset({"s2"}), certificate_types=frozenset(),
                  workers=frozenset({"w2", "w-deleted"}))
    state = desired_state(hr, scope, MappingSettings(), TODAY)
    assert set(state.rows["characteristic"]) == {"skill:s2"} and not state.rows["ratingmodel"]
    assert set(state.rows["bookableresource"]) == {"w2"}
    assert state.scopes["bookableresource"] == {"w2", "w-deleted"}
    assert state.scopes["characteristic"] == {"skill:s2"}
    assert state.scopes["bookableresourcecharacteristic"] == {"w2"}
    resource = state.rows["bookableresource"]["w2"]
    assert resource.fields == {"name": "Name w2"}
    assert resource.create_only == {"resourcetype": 1, "timezone": 85, "cdm_WorkerId@odata.bind": "/cdm_workers(w2)"}


@pytest.mark.parametrize(("values", "message"), [
    ({"worker_navigation": "cdm WorkerId"}, "worker_navigation: invalid worker_navigation name"),
    ({"worker_column": "cdm_WorkerId"}, "worker_column: a logical name is lower case"),
    ({"resource_type": 9}, "resource_type: expected one of 1 (Generic)"),
    ({"resource_timezone": 2000}, "resource_timezone"),
    ({"expired_certificates": "archive"}, "expired_certificates: expected one of remove, keep"),
    ({"level_value_rule": "order"}, "level_value_rule: expected one of factor, rank"),
    ({"hr_prefix": "MSHR"}, "hr_prefix"),
    ({"batch_size": 5000}, "batch_size must be at most 1000"),
    ({"changeset_size": 500}, "changeset_size (500) cannot exceed batch_size (100)"),
    ({"color": "blue"}, "unknown mapping setting(s) color"),
])
def test_bad_settings_are_named(values, message):
    with pytest.raises(MappingConfigError) as err:
        MappingSettings.from_mapping(values)
    assert message in str(err.value)


def test_settings_from_a_plain_mapping():
    settings = MappingSettings.from_mapping({"worker_column": "msdyn_workerid", "expired_certificates": "keep",
                                             "bulk_chunk_size": 50})
    assert settings.worker_column == "msdyn_workerid" and settings.expired_certificates == "keep"
    assert settings.write_options().bulk_chunk_size == 50 and settings.hr_table("hcmskillentity") == "mshr_hcmskillentity"
    assert MappingSettings.from_mapping(None) == MappingSettings()
