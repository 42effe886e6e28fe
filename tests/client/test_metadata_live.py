"""Table metadata from the emulator: entity set names, keys, change tracking, choices, lookups."""

from __future__ import annotations

from typing import Any

import pytest

from hr_dataverse.dataverse import DataverseClient, NotFound, get_entity


def test_worker_metadata(client: DataverseClient, emulator: Any) -> None:
    table = emulator.app.schema["cdm_worker"]
    info = get_entity(client, "cdm_worker")
    assert (info.logical_name, info.entity_set_name) == ("cdm_worker", table.entity_set_name)
    assert (info.primary_id, info.primary_name) == (table.primary_id, table.primary_name)
    assert info.change_tracking_enabled is True and info.object_type_code == table.object_type_code
    assert set(info.attributes) == set(table.attributes)
    state = info.attributes["statecode"]
    assert state.attribute_type == "State" and state.options == {0: "Active", 1: "Inactive"}
    for name, attr in table.attributes.items():
        if attr.attribute_type == "Picklist":
            assert info.attributes[name].options == dict(attr.options)
        if attr.attribute_type == "Lookup":
            assert info.attributes[name].targets == tuple(attr.targets)
    assert info.attributes[table.primary_id].options is None


def test_untracked_table_and_unknown_table(client: DataverseClient) -> None:
    address = get_entity(client, "cdm_workeraddress")
    assert address.change_tracking_enabled is False and address.can_change_tracking_be_enabled is True
    with pytest.raises(NotFound):
        get_entity(client, "cdm_nosuchtable")


def test_the_sync_asks_only_for_the_labels_it_stores(client: DataverseClient, emulator: Any) -> None:
    """One request for the table and its columns, one per option type the caller labels, none for targets."""
    log = emulator.app.request_log
    log.clear()
    info = get_entity(client, "cdm_worker", option_columns=["statecode"], lookup_targets=False)
    paths = [e.path.rsplit("/", 1)[-1] for e in log.entries()]
    assert paths == ["EntityDefinitions(LogicalName='cdm_worker')", "Microsoft.Dynamics.CRM.StateAttributeMetadata"]
    assert info.attributes["statecode"].options == {0: "Active", 1: "Inactive"}
    assert info.attributes["statuscode"].options is None  # not asked for
    log.clear()
    get_entity(client, "cdm_worker", option_columns=[], lookup_targets=False)
    assert len(log.entries()) == 1


def test_lazy_labels_are_fetched_once_per_option_type_when_first_looked_up(client: DataverseClient,
                                                                            emulator: Any) -> None:
    table = emulator.app.schema["cdm_worker"]
    log = emulator.app.request_log
    log.clear()
    info = get_entity(client, "cdm_worker", option_columns=["statecode", "cdm_type"], lookup_targets=False,
                      lazy_options=True)
    assert len(log.entries()) == 1  # the table and its columns only
    assert info.attributes["statecode"].options.get(1) == "Inactive"
    assert dict(info.attributes["statecode"].options) == {0: "Active", 1: "Inactive"}
    assert [e.path.rsplit("/", 1)[-1] for e in log.entries()][1:] == ["Microsoft.Dynamics.CRM.StateAttributeMetadata"]
    picklists = [n for n, a in table.attributes.items() if a.attribute_type == "Picklist"]
    for name in picklists:
        assert dict(info.attributes[name].options) == dict(table.attributes[name].options)
    assert len(log.entries()) == 3  # one more request for every Picklist column together
    assert info.attributes["statuscode"].options is None  # Status labels were not asked for


def test_a_failing_lazy_label_fetch_raises_where_the_label_is_wanted(client: DataverseClient, emulator: Any) -> None:
    info = get_entity(client, "cdm_worker", option_columns=["statecode"], lookup_targets=False, lazy_options=True)
    emulator.app.faults.queue(404, count=1, path_contains="StateAttributeMetadata")
    with pytest.raises(NotFound):
        info.attributes["statecode"].options.get(0)
    assert info.attributes["statecode"].options.get(0) == "Active"  # not cached as empty: asked again
