"""The write-path check the mapping runs first: each set-up gap is a blocker naming its fix, raised
before any write, against emulator tenants that have the gap (RetrieveUserSetOfPrivilegesByNames,
table metadata)."""

from __future__ import annotations

from typing import Any

import pytest

from hr_dataverse.urs import MappingSettings, WritePathBlocked, check_write_path

FUNCTION = "RetrieveUserSetOfPrivilegesByNames"


def blocked(env: Any, settings: MappingSettings | None = None) -> WritePathBlocked:
    env.app.request_log.clear()
    with pytest.raises(WritePathBlocked) as info:
        env.map(settings)
    assert env.writes() == []  # nothing was written
    return info.value


def test_a_ready_tenant_passes_with_one_privilege_call(env: Any) -> None:
    env.app.request_log.clear()
    check_write_path(env.client, MappingSettings())
    paths = [e.path for e in env.app.request_log]
    assert sum("EntityDefinitions" in p for p in paths) == 5 and sum(FUNCTION in p for p in paths) == 1
    assert env.writes() == []


def test_missing_create_on_characteristic_is_named_with_its_fix(make_env: Any) -> None:
    env = make_env(withheld_privileges=("prvCreatecharacteristic",))
    (blocker,) = blocked(env).blockers
    assert blocker.check == "privileges"
    assert "lacks Create (prvCreatecharacteristic) on characteristic" in blocker.cause
    assert "Create, Write and Read on characteristic at Organization level" in blocker.fix
    assert "Security roles" in blocker.fix


def test_a_tenant_without_the_urs_tables_is_one_blocker(make_env: Any) -> None:
    env = make_env(urs_installed=False)
    error = blocked(env)
    (blocker,) = error.blockers
    assert blocker.check == "urs tables"
    assert "ratingmodel, ratingvalue, characteristic, bookableresource, bookableresourcecharacteristic" in blocker.cause
    assert "Scheduling solution is not installed" in blocker.cause and "install Universal Resource Scheduling" in blocker.fix
    assert not [e for e in env.app.request_log if FUNCTION in e.path]  # nothing to ask privileges for


def test_bookableresource_without_the_worker_lookup(make_env: Any) -> None:
    env = make_env(bookableresource_worker_lookup=False)
    (blocker,) = blocked(env).blockers
    assert blocker.check == "worker lookup"
    assert "bookableresource has no column 'cdm_workerid'" in blocker.cause
    assert "HR integration to URS" in blocker.fix or "integration to URS" in blocker.fix
    assert "worker_column" in blocker.fix


def test_every_gap_is_listed_at_once(make_env: Any) -> None:
    env = make_env(bookableresource_worker_lookup=False,
                   withheld_privileges=("prvWritebookableresource", "prvReadratingvalue"))
    error = blocked(env)
    assert [b.check for b in error.blockers] == ["worker lookup", "privileges", "privileges"]
    text = str(error)
    assert "lacks Read (prvReadratingvalue) on ratingvalue" in text
    assert "lacks Write (prvWritebookableresource) on bookableresource" in text


def test_a_disabled_mapping_checks_nothing(make_env: Any) -> None:
    env = make_env(urs_installed=False)
    env.app.request_log.clear()
    result = env.map(MappingSettings(enabled=False))
    assert result.status == "disabled" and env.app.request_log.entries() == []
