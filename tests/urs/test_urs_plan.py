"""Planning against a real mapping state (SQLite), with a stubbed existing-row lookup."""

from __future__ import annotations

from datetime import date

import pytest

from hr_dataverse.urs import MappingSettings, MappingState
from hr_dataverse.urs.plan import ExistingRow, Plan, build_plan, new_id
from hr_dataverse.urs.rules import (
    Employment,
    HrData,
    RatingLevel,
    RatingModel,
    Scope,
    Skill,
    Worker,
    WorkerSkill,
    desired_state,
)
from hr_dataverse.warehouse import Warehouse

TODAY = date(2025, 6, 15)


@pytest.fixture
def state(tmp_path):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    yield MappingState(warehouse)
    warehouse.dispose()


def _hr(*, level: str = "l2", name: str = "Ada Lovelace", employed: bool = True, skills: tuple[str, ...] = ("s1",)):
    return HrData(
        models=[RatingModel("m1", "Skills")],
        levels=[RatingLevel("l1", "m1", "Skills", "1", "Basic", 1), RatingLevel("l2", "m1", "Skills", "2", "Expert", 5)],
        skills=[Skill("s1", "Python"), Skill("s2", "SQL")],
        workers=[Worker("w1", "000001", name, 754400000)],
        employments=[Employment("e1", "w1", date(2020, 1, 1), None if employed else date(2025, 1, 1))],
        worker_skills=[WorkerSkill(f"ws-{s}", "w1", s, level, 200000000, None) for s in skills],
    )


def _plan(state, hr, scope=Scope(), lookup=None, **settings) -> Plan:
    desired = desired_state(hr, scope, MappingSettings(**settings), TODAY)
    return build_plan(desired, state, MappingSettings(**settings), lookup or (lambda table, cands: {}), "run")


def _accept(state, plan: Plan) -> None:
    """Record the plan as if Dataverse accepted every write."""
    state.save([op.after for op in plan.operations if op.after is not None],
               [(op.table, op.key) for op in plan.operations if op.kind == "delete"])


def _ops(plan: Plan) -> list[tuple[str, str, str]]:
    return [(op.kind, op.table, op.key) for op in plan.operations]


def test_creates_in_dependency_order_with_stable_ids(state):
    plan = _plan(state, _hr())
    assert _ops(plan) == [("create", "ratingmodel", "m1"), ("create", "ratingvalue", "l1"),
                          ("create", "ratingvalue", "l2"), ("create", "characteristic", "skill:s1"),
                          ("create", "characteristic", "skill:s2"), ("create", "bookableresource", "w1"),
                          ("create", "bookableresourcecharacteristic", "w1/skill/s1")]
    link = plan.operations[-1]
    assert link.dataverse_id == new_id("bookableresourcecharacteristic", "w1/skill/s1")
    assert link.body == {"Resource@odata.bind": f"/bookableresources({new_id('bookableresource', 'w1')})",
                         "Characteristic@odata.bind": f"/characteristics({new_id('characteristic', 'skill:s1')})",
                         "RatingValue@odata.bind": f"/ratingvalues({new_id('ratingvalue', 'l2')})"}
    assert set(link.needs) == {("bookableresource", "w1"), ("characteristic", "skill:s1"), ("ratingvalue", "l2")}
    resource = plan.operations[-2].body
    assert resource == {"name": "Ada Lovelace", "resourcetype": 1, "timezone": 85,
                        "cdm_WorkerId@odata.bind": "/cdm_workers(w1)"}
    _accept(state, plan)
    assert _plan(state, _hr()).operations == []
    assert plan.summary(2, 5).counts["ratingvalue"]["create"] == 2
    assert len(plan.summary(1, 5).samples["ratingvalue"]["create"]) == 1


def test_changes_updates_removals_and_deactivations(state):
    _accept(state, _plan(state, _hr(skills=("s1", "s2"))))

    plan = _plan(state, _hr(level="l1", name="Ada King", skills=("s1",)))

    assert _ops(plan) == [("update", "bookableresource", "w1"),
                          ("update", "bookableresourcecharacteristic", "w1/skill/s1"),
                          ("delete", "bookableresourcecharacteristic", "w1/skill/s2")]
    assert plan.operations[0].body == {"name": "Ada King"}  # create-only columns are never resent
    assert plan.operations[1].body["RatingValue@odata.bind"] == f"/ratingvalues({new_id('ratingvalue', 'l1')})"
    _accept(state, plan)

    terminated = _plan(state, _hr(level="l1", name="Ada King", employed=False))
    assert _ops(terminated) == [("deactivate", "bookableresource", "w1")]  # its characteristics stay
    assert terminated.operations[0].body == {"statecode": 1, "statuscode": 2}
    _accept(state, terminated)
    assert state.rows("bookableresource")["w1"].active is False

    rehired = _plan(state, _hr(level="l1", name="Ada King"))
    assert _ops(rehired) == [("update", "bookableresource", "w1")]
    assert rehired.operations[0].body == {"statecode": 0, "statuscode": 1}


def test_adopting_rows_that_exist_in_dataverse(state):
    existing = {"bookableresource": {"w1": ExistingRow("res-1", {"name": "A. Lovelace"}, False)},
                "characteristic": {"skill:s1": ExistingRow("chr-1", {"name": "Python", "characteristictype": 1,
                                                                    "description": None}, True)}}
    asked: dict[str, list[str]] = {}

    def lookup(table, candidates):
        asked[table] = [c.row.key for c in candidates]
        return {k: v for k, v in existing.get(table, {}).items() if k in asked[table]}

    plan = _plan(state, _hr(), lookup=lookup)

    kinds = {(op.table, op.key): [o.kind for o in plan.operations if (o.table, o.key) == (op.table, op.key)]
             for op in plan.operations}
    assert kinds[("characteristic", "skill:s1")] == ["adopt"]  # same content: nothing to write
    assert kinds[("bookableresource", "w1")] == ["adopt", "update"]
    update = next(o for o in plan.operations if o.kind == "update")
    assert update.dataverse_id == "res-1" and update.body == {"name": "Ada Lovelace", "statecode": 0, "statuscode": 1}
    link = plan.for_table("bookableresourcecharacteristic")[0]
    assert link.body["Resource@odata.bind"] == "/bookableresources(res-1)"
    assert link.body["Characteristic@odata.bind"] == "/characteristics(chr-1)"
    assert ("bookableresource", "w1") not in link.needs  # adopted, not created by this plan
    assert asked["bookableresource"] == ["w1"]
    _accept(state, plan)
    assert state.rows("bookableresource")["w1"].origin == "adopted"
    assert _plan(state, _hr(), lookup=lookup).operations == []


def test_references_that_cannot_be_resolved(state):
    incremental = Scope(models=frozenset({"m1"}), skills=frozenset(), certificate_types=frozenset(),
                        workers=frozenset({"w1"}))
    plan = _plan(state, _hr(), incremental)
    assert [(p.key, p.message) for p in plan.problems] == [
        ("w1/skill/s1", "refers to characteristic 'skill:s1', which is not mapped")]
    assert not plan.for_table("bookableresourcecharacteristic")

    no_create = _plan(state, _hr(), create_missing_resources=False)
    assert not no_create.for_table("bookableresource") and not no_create.for_table("bookableresourcecharacteristic")
    assert no_create.skipped == 2 and no_create.problems == []
