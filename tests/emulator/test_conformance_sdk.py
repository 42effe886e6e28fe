"""Conformance with a client nobody here wrote: Microsoft's ``PowerPlatform-Dataverse-Client`` SDK, authenticated
by a real ``azure.identity.ClientSecretCredential`` against the emulator's authority, over HTTPS.

The SDK drives metadata (EntityDefinitions, picklist option sets for label -> value conversion), paged
reads, create/update/delete, CreateMultiple/UpdateMultiple, alternate-key upsert (PATCH) and UpsertMultiple.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import pytest
from azure.identity import ClientSecretCredential
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models.upsert import UpsertItem

from dataverse_emulator.security import DEFAULT_ROLE
from dataverse_emulator.testing import RunningEmulator


@pytest.fixture(scope="module")
def client(emu: RunningEmulator) -> Iterator[DataverseClient]:
    info = emu.info
    credential = ClientSecretCredential(
        info["tenant_id"], info["client_id"], info["client_secret"],
        authority=info["authority_host"], disable_instance_discovery=True, connection_verify=info["ca_bundle"],
    )
    with pytest.MonkeyPatch.context() as mp:
        # The SDK's requests.Session has no verify option of its own; requests reads the CA from the env.
        mp.setenv("REQUESTS_CA_BUNDLE", info["ca_bundle"])
        with DataverseClient(info["dataverse_url"], credential) as dv_client:
            yield dv_client


def test_list_pages_through_every_row(emu, client):
    expected = {r["cdm_workerid"]: r["cdm_workernumber"] for r in emu.app.store.iter_rows("cdm_worker")}
    emu.app.request_log.clear()
    pages = list(client.records.list_pages("cdm_worker", select=["cdm_workernumber"], page_size=15))
    assert [len(p) for p in pages[:-1]] == [15] * (len(pages) - 1)
    assert len(pages) == math.ceil(len(expected) / 15) >= 3
    seen = {r["cdm_workerid"]: r["cdm_workernumber"] for page in pages for r in page}
    assert seen == expected and sum(len(p) for p in pages) == len(expected)
    reads = [e for e in emu.app.request_log if e.path.endswith("/cdm_workers")]
    assert len(reads) == len(pages) and all("skiptoken" in e.query for e in reads[1:])


def test_list_with_filter_and_orderby(emu, client):
    result = client.records.list("cdm_company", select=["cdm_companycode"], filter="cdm_companycode ne 'USMF'",
                                 orderby=["cdm_companycode desc"])
    codes = [r["cdm_companycode"] for r in result]
    expected = sorted((r["cdm_companycode"] for r in emu.app.store.iter_rows("cdm_company")
                       if r["cdm_companycode"] != "USMF"), reverse=True)
    assert codes == expected and codes


def test_create_with_choice_label_update_get_delete(emu, client):
    row_id = client.records.create("characteristic", {"name": "SDK welding", "characteristictype": "Certification"})
    assert emu.app.store.get("characteristic", row_id)["characteristictype"] == 2  # label resolved via metadata
    client.records.update("characteristic", row_id, {"description": "MIG and TIG"})
    fetched = client.records.retrieve("characteristic", row_id, select=["name", "description"])
    assert (fetched["name"], fetched["description"]) == ("SDK welding", "MIG and TIG")
    client.records.delete("characteristic", row_id)
    assert emu.app.store.get("characteristic", row_id) is None
    assert client.records.retrieve("characteristic", row_id) is None


def test_create_multiple_and_update_multiple(emu, client):
    ids = client.records.create("characteristic", [{"name": f"SDK bulk {i}", "characteristictype": 1}
                                                   for i in range(3)])
    assert [emu.app.store.get("characteristic", i)["name"] for i in ids] == [f"SDK bulk {i}" for i in range(3)]
    client.records.update("characteristic", ids, {"description": "bulk"})
    assert {emu.app.store.get("characteristic", i)["description"] for i in ids} == {"bulk"}


def test_upsert_by_alternate_key(emu, client):
    security = emu.app.security
    security.define_role("SDK skill writer", {"cdm_skilltype": {a: "organization" for a in ("read", "create", "write")}})
    security.set_roles(emu.info["client_id"], [DEFAULT_ROLE, "SDK skill writer"])
    item = UpsertItem(alternate_key={"cdm_name": "O'Neill rigging"}, record={"cdm_description": "created"})
    client.records.upsert("cdm_skilltype", [item])
    rows = emu.app.store.find("cdm_skilltype", "cdm_name", "O'Neill rigging")
    assert [r["cdm_description"] for r in rows] == ["created"]
    client.records.upsert("cdm_skilltype", [UpsertItem(alternate_key={"cdm_name": "O'Neill rigging"},
                                                       record={"cdm_description": "updated"})])
    rows = emu.app.store.find("cdm_skilltype", "cdm_name", "O'Neill rigging")
    assert [r["cdm_description"] for r in rows] == ["updated"]


def test_upsert_multiple(emu, client):
    link = next(emu.app.store.iter_rows("bookableresourcecharacteristic"))
    new_id = uuid.uuid4()
    binds = {"Resource@odata.bind": f"/bookableresources({link['resource']})",
             "Characteristic@odata.bind": f"/characteristics({link['characteristic']})"}
    client.records.upsert("bookableresourcecharacteristic", [
        UpsertItem(alternate_key={"bookableresourcecharacteristicid": uuid.UUID(link["bookableresourcecharacteristicid"])},
                   record={"name": "SDK renamed"}),
        UpsertItem(alternate_key={"bookableresourcecharacteristicid": new_id}, record={"name": "SDK new", **binds}),
    ])
    assert emu.app.store.get("bookableresourcecharacteristic", link["bookableresourcecharacteristicid"])["name"] \
        == "SDK renamed"
    created = emu.app.store.get("bookableresourcecharacteristic", str(new_id))
    assert (created["name"], created["resource"]) == ("SDK new", link["resource"])
    assert any(e.path.endswith("/Microsoft.Dynamics.CRM.UpsertMultiple") and e.status == 204
               for e in emu.app.request_log)


def test_errors_reach_the_sdk_with_dataverse_codes(client):
    with pytest.raises(HttpError) as unknown:
        client.records.create("characteristic", {"name": "x", "characteristictype": 1, "nosuchcolumn": 1})
    assert unknown.value.status_code == 400
    assert unknown.value.details["service_error_code"] == "0x80048d19"
    assert "The property 'nosuchcolumn' does not exist" in unknown.value.message
    with pytest.raises(HttpError) as denied:
        client.records.create("cdm_company", {"cdm_name": "Nope", "cdm_companycode": "NOPE"})
    assert denied.value.status_code == 403 and denied.value.details["service_error_code"] == "0x80040220"


# --- metadata and aggregation (issue 17) ------------------------------------------------------------


def test_table_metadata_through_the_sdk(emu, client):
    table = emu.app.schema["cdm_worker"]
    info = client.tables.get("cdm_worker")
    assert info is not None
    assert (info["entity_set_name"], info["primary_id_attribute"]) == (table.entity_set_name, table.primary_id)
    columns = client.tables.list_columns("cdm_worker", select=["LogicalName", "AttributeType"],
                                         filter="AttributeType eq 'DateTime'")
    assert {c["LogicalName"] for c in columns} == {a.logical_name for a in table.attributes.values()
                                                  if a.attribute_type == "DateTime"}
    birth = client.tables.get_column("cdm_worker", "cdm_birthdate")
    assert birth is not None and birth["AttributeType"] == "DateTime"
    assert client.tables.get_column("cdm_worker", "cdm_nope") is None


def test_fetchxml_paging_and_aggregate_through_the_sdk(emu, client):
    rows = list(emu.app.store.iter_rows("cdm_worker"))
    xml = ('<fetch count="7"><entity name="cdm_worker"><attribute name="cdm_workernumber"/>'
           '<order attribute="cdm_workerid"/></entity></fetch>')
    emu.app.request_log.clear()
    pages = list(client.query.fetchxml(xml).execute_pages())
    assert [len(p) for p in pages[:-1]] == [7] * (len(pages) - 1) and len(pages) == -(-len(rows) // 7)
    seen = [r["cdm_workernumber"] for p in pages for r in p]
    assert sorted(seen) == sorted(r["cdm_workernumber"] for r in rows) and len(set(seen)) == len(rows)
    assert len([e for e in emu.app.request_log if e.path.endswith("/cdm_workers")]) == len(pages)

    aggregate = ('<fetch aggregate="true"><entity name="cdm_worker">'
                 '<attribute name="statecode" alias="state" groupby="true"/>'
                 '<attribute name="cdm_workerid" alias="workers" aggregate="count"/></entity></fetch>')
    result = client.query.fetchxml(aggregate).execute()
    counts: dict[int, int] = {}
    for r in rows:
        counts[r["statecode"]] = counts.get(r["statecode"], 0) + 1
    assert {r["state"]: r["workers"] for r in result} == counts


def test_sql_endpoint_is_refused_not_ignored(client):
    with pytest.raises(HttpError) as refused:
        client.query.sql("SELECT TOP 1 cdm_fullname FROM cdm_worker")
    assert refused.value.status_code == 501
