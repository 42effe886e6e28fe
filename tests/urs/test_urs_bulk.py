"""Bulk writes: how many HTTP requests mapping 1,000+ worker-skill links takes, per write path."""

from __future__ import annotations

import pytest
from urs_expectation import eligible_workers, expected_links, urs_snapshot

from hr_dataverse.urs.rules import TARGETS

MESSAGES = ("UpsertMultiple", "CreateMultiple", "UpdateMultiple")


@pytest.mark.parametrize("path", ["UpsertMultiple", "CreateMultiple", "$batch"])
def test_a_thousand_worker_skill_links_take_a_few_dozen_requests(make_env, path):
    # 300 workers give about 1,150 Actual worker-skill links (seeded, so always the same number).
    env = make_env(scale=300, bookableresourcecharacteristic_upsert_multiple=path == "UpsertMultiple")
    if path == "$batch":  # a Dataverse without the bulk messages: every write goes through $batch
        for target in TARGETS:
            for message in MESSAGES:
                env.support.set(env.client, target, message, False)
    workers = eligible_workers(env.store, env.today)
    expected = expected_links(env.store, workers, env.today)
    skill_links = sum(n for k, n in expected.items() if k[2] == 1)
    env.app.request_log.clear()

    result = env.map()

    assert result.status == "success" and skill_links >= 1000
    links = {k: n for k, n in urs_snapshot(env.store)["link"].items() if k[0] in workers}
    assert links == dict(expected)
    writes = env.writes()
    link_writes = result.write_requests_by_table["bookableresourcecharacteristic"]
    report = (f"{path}: {skill_links} worker-skill links ({sum(expected.values())} resource characteristics in "
              f"all) took {link_writes} write requests to bookableresourcecharacteristic; the whole run took "
              f"{len(writes)} write requests ({result.write_requests_by_kind}) and {result.requests} requests "
              "including the reads looking for rows to adopt")
    assert len(writes) == result.write_requests == sum(result.write_requests_by_table.values()), report
    assert link_writes <= 15 and len(writes) <= 36, report
    probes = [e for e in writes if e.status >= 400]
    assert all(e.path.endswith("Microsoft.Dynamics.CRM.UpsertMultiple") and e.status == 400 for e in probes), report
    used = {e.path.rsplit("/", 1)[-1] for e in writes if e.status < 400}
    assert used == ({"$batch"} if path == "$batch" else {"Microsoft.Dynamics.CRM.CreateMultiple"} | (
        {"Microsoft.Dynamics.CRM.UpsertMultiple"} if path == "UpsertMultiple" else set())), report
    print(report)
