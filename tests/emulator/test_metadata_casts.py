"""Attribute metadata type casts (``EntityDefinitions(LogicalName='x')/Attributes/Microsoft.Dynamics.CRM.<Type>``)
answer with the documented shape for every documented derived type, with ``$select``/``$filter`` on the
derived properties and ``$expand`` of option sets, directly and inside ``$batch`` (reference §8)."""

from __future__ import annotations

import json

import pytest
from test_webapi_batch import batch_body, op, parse_batch_response, post_batch

from dataverse_emulator.webapi_metadata import CAST_TYPES

NS = "Microsoft.Dynamics.CRM."
JSON = "application/json; odata.metadata=minimal"


def _cast(dv, table: str, cast: str, query: str = ""):
    resp = dv.get(f"EntityDefinitions(LogicalName='{table}')/Attributes/{NS}{cast}{query}")
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == JSON and resp.headers["OData-Version"] == "4.0"
    return resp.json()


@pytest.mark.parametrize("cast", sorted(CAST_TYPES))
def test_every_documented_cast_answers_with_its_own_type(shared_dv, cast):
    body = _cast(shared_dv, "cdm_worker", cast, "?$select=LogicalName")
    assert body["@odata.context"] == (f"{shared_dv.api}$metadata#EntityDefinitions('cdm_worker')/Attributes/"
                                      f"{NS}{cast}(LogicalName)")
    table = shared_dv.app.schema["cdm_worker"]
    expected = {a.logical_name for a in table.attributes.values() if a.attribute_type in CAST_TYPES[cast]}
    assert {row["LogicalName"] for row in body["value"]} == expected
    for row in body["value"]:
        assert set(row) == {"@odata.type", "MetadataId", "LogicalName"}
        if cast != "EnumAttributeMetadata":
            assert row["@odata.type"] == f"#{NS}{cast}"


def test_datetime_behavior_and_format(shared_dv):
    body = _cast(shared_dv, "cdm_worker", "DateTimeAttributeMetadata",
                 "?$select=LogicalName,DateTimeBehavior,Format,CanChangeDateTimeBehavior")
    rows = {r["LogicalName"]: r for r in body["value"]}
    assert rows["modifiedon"]["DateTimeBehavior"] == {"Value": "UserLocal"}
    assert rows["modifiedon"]["Format"] == "DateAndTime"
    assert rows["modifiedon"]["CanChangeDateTimeBehavior"]["Value"] is False
    date_only = [a.logical_name for a in shared_dv.app.schema["cdm_worker"].attributes.values() if a.date_only]
    assert date_only and all(rows[n]["DateTimeBehavior"] == {"Value": "DateOnly"} and rows[n]["Format"] == "DateOnly"
                             for n in date_only)
    filtered = _cast(shared_dv, "cdm_worker", "DateTimeAttributeMetadata",
                     "?$select=LogicalName&$filter=DateTimeBehavior/Value eq 'DateOnly'")
    assert sorted(r["LogicalName"] for r in filtered["value"]) == sorted(date_only)
    by_format = _cast(shared_dv, "cdm_worker", "DateTimeAttributeMetadata",
                      f"?$select=LogicalName&$filter=Format eq {NS}DateTimeFormat'DateAndTime'")
    assert {r["LogicalName"] for r in by_format["value"]} == set(rows) - set(date_only)


def test_derived_property_needs_its_cast(shared_dv):
    resp = shared_dv.get("EntityDefinitions(LogicalName='cdm_worker')/Attributes?$select=LogicalName,DateTimeBehavior")
    assert resp.status_code == 400
    assert resp.json() == {"error": {"code": "0x80060888", "message": "Could not find a property named "
                                     "'DateTimeBehavior' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'."}}
    resp = shared_dv.get(f"EntityDefinitions(LogicalName='cdm_worker')/Attributes/{NS}StringAttributeMetadata"
                         "?$select=Targets")
    assert resp.status_code == 400 and "StringAttributeMetadata" in resp.json()["error"]["message"]


def test_picklist_with_option_set_and_global_option_set(shared_dv):
    body = _cast(shared_dv, "cdm_worker", "PicklistAttributeMetadata",
                 "?$select=LogicalName,DefaultFormValue&$expand=OptionSet($select=Options),GlobalOptionSet")
    rows = {r["LogicalName"]: r for r in body["value"]}
    table = shared_dv.app.schema["cdm_worker"]
    assert rows["cdm_type"]["GlobalOptionSet"] is None and rows["cdm_type"]["DefaultFormValue"] == -1
    options = rows["cdm_type"]["OptionSet"]["Options"]
    assert {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in options} == table.attributes["cdm_type"].options
    assert set(rows["cdm_type"]["OptionSet"]) == {"MetadataId", "Options"}


def test_status_and_state_options(shared_dv):
    status = _cast(shared_dv, "cdm_job", "StatusAttributeMetadata", "?$select=LogicalName&$expand=OptionSet")
    options = status["value"][0]["OptionSet"]["Options"]
    assert [(o["Value"], o["State"], o["@odata.type"]) for o in options] == [
        (1, 0, f"#{NS}StatusOptionMetadata"), (2, 1, f"#{NS}StatusOptionMetadata")]
    state = _cast(shared_dv, "cdm_job", "StateAttributeMetadata", "?$select=LogicalName&$expand=OptionSet")
    options = state["value"][0]["OptionSet"]["Options"]
    assert [(o["Value"], o["DefaultStatus"], o["InvariantName"]) for o in options] == [(0, 1, "Active"), (1, 2, "Inactive")]


def test_lookup_boolean_and_numbers(shared_dv):
    lookups = _cast(shared_dv, "cdm_employment", "LookupAttributeMetadata", "?$select=LogicalName,Targets")
    assert {r["LogicalName"]: r["Targets"] for r in lookups["value"]}["cdm_workerid"] == ["cdm_worker"]
    booleans = _cast(shared_dv, "cdm_job", "BooleanAttributeMetadata", "?$select=LogicalName,DefaultValue&$expand=OptionSet")
    for row in booleans["value"]:
        assert row["DefaultValue"] is False
        assert (row["OptionSet"]["TrueOption"]["Value"], row["OptionSet"]["FalseOption"]["Value"]) == (1, 0)
    integers = _cast(shared_dv, "cdm_worker", "BigIntAttributeMetadata", "?$select=LogicalName,MinValue,MaxValue")
    assert [r["LogicalName"] for r in integers["value"]] == ["versionnumber"]
    decimals = [(t.logical_name, a) for t in shared_dv.app.schema.values() for a in t.attributes.values()
                if a.attribute_type == "Decimal"]
    if decimals:
        table, attr = decimals[0]
        body = _cast(shared_dv, table, "DecimalAttributeMetadata",
                     f"?$select=LogicalName,Precision,MinValue,MaxValue&$filter=LogicalName eq '{attr.logical_name}'")
        assert body["value"][0]["Precision"] == attr.precision
    assert _cast(shared_dv, "cdm_worker", "MultiSelectPicklistAttributeMetadata")["value"] == []
    assert _cast(shared_dv, "cdm_worker", "MoneyAttributeMetadata", "?$select=LogicalName,PrecisionSource")["value"] == []


def test_unknown_cast_is_a_404(shared_dv):
    resp = shared_dv.get(f"EntityDefinitions(LogicalName='cdm_worker')/Attributes/{NS}NopeAttributeMetadata")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "0x80060888"


def test_casts_for_every_table_inside_a_batch(shared_dv):
    tables = sorted(shared_dv.app.schema)
    base = "/api/data/v9.2/"
    parts = [op("GET", f"{base}EntityDefinitions(LogicalName='{t}')/Attributes/{NS}DateTimeAttributeMetadata"
                       "?$select=LogicalName,DateTimeBehavior") for t in tables]
    parts += [op("GET", f"{base}EntityDefinitions(LogicalName='{t}')/Attributes/{NS}PicklistAttributeMetadata"
                        "?$select=LogicalName&$expand=OptionSet($select=Options)") for t in tables]
    resp = post_batch(shared_dv, batch_body(*parts))
    assert resp.status_code == 200
    results = parse_batch_response(resp)
    assert len(results) == 2 * len(tables) and all(r["status"] == 200 for r in results)
    for table, result in zip(tables, results, strict=False):
        names = {a.logical_name for a in shared_dv.app.schema[table].attributes.values() if a.attribute_type == "DateTime"}
        value = json.loads(result["body"])["value"]
        assert {row["LogicalName"] for row in value} == names
        assert all(row["DateTimeBehavior"]["Value"] in ("UserLocal", "DateOnly") for row in value)


# --- keys, relationships, SDK message filters ----------------------------------------------------------


def test_keys_and_relationships(shared_dv):
    schema = shared_dv.app.schema
    keyed = next(t for t in schema.values() if t.alternate_keys)
    keys = _cast_free(shared_dv, f"EntityDefinitions(LogicalName='{keyed.logical_name}')/Keys?$select=SchemaName,KeyAttributes")
    assert [tuple(k["KeyAttributes"]) for k in keys["value"]] == list(keyed.alternate_keys)
    assert all(set(k) == {"MetadataId", "SchemaName", "KeyAttributes"} for k in keys["value"])
    many = _cast_free(shared_dv, "EntityDefinitions(LogicalName='cdm_employment')/ManyToOneRelationships"
                                 "?$select=ReferencingAttribute,ReferencingEntityNavigationPropertyName,ReferencedEntity")
    assert {(r["ReferencingAttribute"], r["ReferencingEntityNavigationPropertyName"], r["ReferencedEntity"])
            for r in many["value"]} >= {("cdm_workerid", "cdm_WorkerId", "cdm_worker")}
    one = _cast_free(shared_dv, "EntityDefinitions(LogicalName='cdm_worker')/OneToManyRelationships"
                                "?$filter=ReferencingEntity eq 'cdm_employment'")
    assert [r["ReferencedEntityNavigationPropertyName"] for r in one["value"]] == ["cdm_worker_cdm_employment_cdm_workerid"]
    assert one["value"][0]["@odata.type"] == f"#{NS}OneToManyRelationshipMetadata"


def test_sdk_message_filters_answer_the_documented_support_check(shared_dv):
    table = next(t for t in shared_dv.app.schema.values() if "CreateMultiple" in t.bulk_messages)
    body = _cast_free(shared_dv, "sdkmessagefilters?$select=sdkmessagefilterid&$expand=sdkmessageid($select=name)"
                                 "&$filter=sdkmessageid/name eq @m and primaryobjecttypecode eq @t"
                                 f"&@m='CreateMultiple'&@t='{table.logical_name}'")
    assert len(body["value"]) == 1 and body["value"][0]["sdkmessageid"]["name"] == "CreateMultiple"
    none = _cast_free(shared_dv, "sdkmessagefilters?$select=sdkmessagefilterid"
                                 "&$filter=sdkmessageid/name eq 'CreateMultiple' and primaryobjecttypecode eq 'cdm_worker'")
    assert none["value"] == []  # an unsupported table: empty value, as documented
    assert shared_dv.get("sdkmessagefilters?$top=1").status_code == 400


def _cast_free(dv, path: str) -> dict:
    resp = dv.get(path)
    assert resp.status_code == 200, resp.text
    return resp.json()
