"""Conformance with a third client nobody here wrote: ``dataverse-api`` (PyPI). Its table discovery
(``Dataverse.entity``: EntityDefinitions properties, alternate ``Keys``, ``sdkmessagefilters`` for
CreateMultiple/UpdateMultiple, One-to-Many and Many-to-One relationships) must succeed for every table, and
its own ``$batch`` encoder (LF line ends, a quoted boundary, a JSON Content-Type on GET parts) must carry
type-cast attribute queries for every table."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import requests
from dataverse_api.dataverse import DataverseClient
from dataverse_api.utils.batching import BatchCommand, RequestMethod

from dataverse_emulator.odata.filter import collection_navigation_name
from dataverse_emulator.testing import RunningEmulator, access_token

NS = "Microsoft.Dynamics.CRM."


@pytest.fixture(scope="module")
def client(emu: RunningEmulator) -> Iterator[DataverseClient]:
    session = requests.Session()
    session.verify = emu.info["ca_bundle"]
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {access_token(emu.info)}"
    yield DataverseClient(session, emu.info["dataverse_url"] + "/")
    session.close()


def test_table_discovery_for_every_table(emu, client):
    schema = emu.app.schema
    for name, table in schema.items():
        entity = client.entity(name)
        assert (entity.entity_set_name, entity.primary_id_attr) == (table.entity_set_name, table.primary_id)
        assert sorted(map(tuple, entity.alternate_keys.values())) == sorted(table.alternate_keys)
        assert entity.supports_create_multiple == ("CreateMultiple" in table.bulk_messages)
        assert entity.supports_update_multiple == ("UpdateMultiple" in table.bulk_messages)
        relationships = entity.relationships
        assert sorted(relationships.single_valued) == sorted(
            a.navigation_property for a in table.lookups() if a.navigation_property)
        assert sorted(relationships.collection_valued) == sorted(
            collection_navigation_name(name, source.logical_name, a.logical_name)
            for source in schema.values() for a in source.lookups()
            if a.targets[0] == name and a.navigation_property)
    assert any(t.bulk_messages for t in schema.values()) and any(t.alternate_keys for t in schema.values())


def _parts(resp: requests.Response) -> list[tuple[int, dict]]:
    boundary = re.search(r"boundary=(\S+)", resp.headers["Content-Type"]).group(1)
    out = []
    for chunk in resp.text.split(f"--{boundary}")[1:-1]:
        status = int(re.search(r"HTTP/1\.1 (\d{3})", chunk).group(1))
        out.append((status, json.loads(chunk[chunk.index("{"):].strip())))
    return out


def test_type_cast_attribute_queries_for_every_table_in_its_batch(emu, client):
    tables = sorted(emu.app.schema)
    casts = ("DateTimeAttributeMetadata", "PicklistAttributeMetadata", "LookupAttributeMetadata")
    select = {"DateTimeAttributeMetadata": "LogicalName,DateTimeBehavior,Format",
              "PicklistAttributeMetadata": "LogicalName", "LookupAttributeMetadata": "LogicalName,Targets"}
    commands = [BatchCommand(f"EntityDefinitions(LogicalName='{t}')/Attributes/{NS}{cast}?$select={select[cast]}",
                             RequestMethod.GET) for t in tables for cast in casts]
    responses = client.submit_batch(commands)
    assert [r.status_code for r in responses] == [200]
    parts = _parts(responses[0])
    assert len(parts) == len(commands) and all(status == 200 for status, _ in parts)
    types = {"DateTimeAttributeMetadata": "DateTime", "PicklistAttributeMetadata": "Picklist",
             "LookupAttributeMetadata": "Lookup"}
    for command, (_, body) in zip(commands, parts, strict=True):
        table = emu.app.schema[re.search(r"LogicalName='(\w+)'", command.url).group(1)]
        cast = next(c for c in casts if c in command.url)
        attrs = {a.logical_name: a for a in table.attributes.values() if a.attribute_type == types[cast]}
        assert {row["LogicalName"] for row in body["value"]} == set(attrs)
        for row in body["value"]:
            if cast == "DateTimeAttributeMetadata":
                date_only = attrs[row["LogicalName"]].date_only
                assert row["DateTimeBehavior"] == {"Value": "DateOnly" if date_only else "UserLocal"}
            if cast == "LookupAttributeMetadata":
                assert row["Targets"] == list(attrs[row["LogicalName"]].targets)
