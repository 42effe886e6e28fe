"""$metadata (CSDL) and EntityDefinitions over the wire."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

JSON = "application/json; odata.metadata=minimal"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def _schema(resp) -> ET.Element:
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/xml"
    root = ET.fromstring(resp.content)
    assert root.tag == f"{EDMX}Edmx" and root.get("Version") == "4.0"
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema is not None
    return schema


def test_csdl_has_entity_types_keys_properties_and_sets(shared_dv):
    schema = _schema(shared_dv.get("$metadata"))
    assert schema.get("Namespace") == "Microsoft.Dynamics.CRM" and schema.get("Alias") == "mscrm"
    types = {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}
    for table in shared_dv.app.schema.values():
        etype = types[table.logical_name]
        assert etype.find(f"{EDM}Key/{EDM}PropertyRef").get("Name") == table.primary_id
        props = {p.get("Name"): p.get("Type") for p in etype.findall(f"{EDM}Property")}
        assert set(props) == {table.wire_name(a) for a in table.attributes.values()}
    worker = {p.get("Name"): p.get("Type") for p in types["cdm_worker"].findall(f"{EDM}Property")}
    assert worker["cdm_workerid"] == "Edm.Guid" and worker["cdm_birthdate"] == "Edm.Date"
    assert worker["cdm_type"] == "Edm.Int32" and worker["modifiedon"] == "Edm.DateTimeOffset"
    navs = {n.get("Name"): n.get("Type") for n in types["cdm_jobposition"].findall(f"{EDM}NavigationProperty")}
    assert navs["cdm_JobId"] == "mscrm.cdm_job"
    container = schema.find(f"{EDM}EntityContainer")
    sets = {s.get("Name"): s for s in container.findall(f"{EDM}EntitySet")}
    assert sets["cdm_workers"].get("EntityType") == "Microsoft.Dynamics.CRM.cdm_worker"
    assert sets["cdm_workers"].find(f"{EDM}Annotation") is None  # only with ?annotations=true
    binding = sets["cdm_jobpositions"].find(f"{EDM}NavigationPropertyBinding[@Path='cdm_JobId']")
    assert binding.get("Target") == "cdm_jobs"


def test_csdl_annotations_show_change_tracking(shared_dv):
    schema = _schema(shared_dv.get("$metadata?annotations=true"))
    sets = {s.get("Name"): s for s in schema.find(f"{EDM}EntityContainer").findall(f"{EDM}EntitySet")}
    term = f"{EDM}Annotation[@Term='Org.OData.Capabilities.V1.ChangeTracking']/{EDM}Record/{EDM}PropertyValue"
    for table in shared_dv.app.schema.values():
        value = sets[table.entity_set_name].find(term)
        assert value.get("Property") == "Supported"
        assert value.get("Bool") == ("true" if table.change_tracking else "false")
    assert sets["cdm_workeraddresses"].find(term).get("Bool") == "false"


def test_entity_definitions_select_filter_like_the_python_sdk(shared_dv):
    resp = shared_dv.get("EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute"
                         "&$filter=LogicalName eq 'cdm_worker'")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert body["@odata.context"] == shared_dv.api + "$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute)"
    [item] = body["value"]
    assert set(item) == {"MetadataId", "LogicalName", "EntitySetName", "PrimaryIdAttribute"}
    assert (item["LogicalName"], item["EntitySetName"], item["PrimaryIdAttribute"]) == (
        "cdm_worker", "cdm_workers", "cdm_workerid")


def test_entity_definitions_filter_change_tracking_enabled(shared_dv):
    body = shared_dv.get("EntityDefinitions?$select=LogicalName&$filter=ChangeTrackingEnabled eq true").json()
    names = {item["LogicalName"] for item in body["value"]}
    assert names == {t.logical_name for t in shared_dv.app.schema.values() if t.change_tracking}
    assert "cdm_workeraddress" not in names


def test_keyed_entity_definition_is_a_single_object(shared_dv):
    resp = shared_dv.get("EntityDefinitions(LogicalName='cdm_worker')?$select=ChangeTrackingEnabled,LogicalCollectionName")
    assert resp.status_code == 200
    body = resp.json()
    assert body["@odata.context"] == shared_dv.api + \
        "$metadata#EntityDefinitions(ChangeTrackingEnabled,LogicalCollectionName)/$entity"
    assert body["ChangeTrackingEnabled"] is True and body["LogicalCollectionName"] == "cdm_workers"
    assert "value" not in body
    again = shared_dv.get("EntityDefinitions(LogicalName='cdm_worker')?$select=LogicalName").json()
    assert again["MetadataId"] == body["MetadataId"]  # stable per table
    by_id = shared_dv.get(f"EntityDefinitions({body['MetadataId']})?$select=LogicalName").json()
    assert by_id["LogicalName"] == "cdm_worker"


def test_full_entity_definition_fields(shared_dv):
    body = shared_dv.get("EntityDefinitions(LogicalName='bookableresource')").json()
    table = shared_dv.app.schema["bookableresource"]
    assert body["PrimaryIdAttribute"] == table.primary_id and body["PrimaryNameAttribute"] == table.primary_name
    assert body["ObjectTypeCode"] == table.object_type_code and body["IsCustomEntity"] is False
    assert body["CanChangeTrackingBeEnabled"]["Value"] is True
    assert body["DisplayName"]["UserLocalizedLabel"]["Label"] == table.display_name
    assert shared_dv.get("EntityDefinitions(LogicalName='cdm_worker')").json()["IsCustomEntity"] is True


def test_expand_attributes_with_nested_select(shared_dv):
    resp = shared_dv.get("EntityDefinitions(LogicalName='cdm_jobposition')?$select=LogicalName"
                         "&$expand=Attributes($select=LogicalName,AttributeType,AttributeTypeName,RequiredLevel,Targets)")
    attrs = {a["LogicalName"]: a for a in resp.json()["Attributes"]}
    table = shared_dv.app.schema["cdm_jobposition"]
    assert set(attrs) == set(table.attributes)
    assert attrs["cdm_jobid"]["AttributeType"] == "Lookup" and attrs["cdm_jobid"]["Targets"] == ["cdm_job"]
    assert attrs["cdm_jobid"]["AttributeTypeName"] == {"Value": "LookupType"}
    assert attrs["cdm_jobid"]["RequiredLevel"]["Value"] == "ApplicationRequired"
    assert attrs["cdm_jobpositionid"]["AttributeType"] == "Uniqueidentifier"
    assert all("MetadataId" in a for a in attrs.values())


def test_attributes_collection_fields(shared_dv):
    body = shared_dv.get("EntityDefinitions(LogicalName='cdm_worker')/Attributes"
                         "?$select=LogicalName,IsPrimaryId,IsPrimaryName,IsValidForRead,MaxLength").json()
    attrs = {a["LogicalName"]: a for a in body["value"]}
    assert attrs["cdm_workerid"]["IsPrimaryId"] is True and attrs["cdm_fullname"]["IsPrimaryName"] is True
    assert attrs["cdm_workernumber"]["MaxLength"] == 25 and attrs["cdm_workernumber"]["IsValidForRead"] is True
    assert attrs["cdm_type"]["MaxLength"] is None


def test_picklist_cast_with_option_sets(shared_dv):
    resp = shared_dv.get("EntityDefinitions(LogicalName='cdm_worker')/Attributes/"
                         "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName"
                         "&$expand=OptionSet,GlobalOptionSet")
    assert resp.status_code == 200
    table = shared_dv.app.schema["cdm_worker"]
    value = {a["LogicalName"]: a for a in resp.json()["value"]}
    assert set(value) == {a.logical_name for a in table.attributes.values() if a.attribute_type == "Picklist"}
    options = {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in value["cdm_type"]["OptionSet"]["Options"]}
    assert options == table.attributes["cdm_type"].options
    assert value["cdm_type"]["GlobalOptionSet"] is None
    assert value["cdm_type"]["@odata.type"] == "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata"


@pytest.mark.parametrize("cast,column", [("StateAttributeMetadata", "statecode"),
                                         ("StatusAttributeMetadata", "statuscode")])
def test_state_and_status_casts(shared_dv, cast, column):
    body = shared_dv.get(f"EntityDefinitions(LogicalName='cdm_job')/Attributes/Microsoft.Dynamics.CRM.{cast}"
                         "?$select=LogicalName&$expand=OptionSet").json()
    [attr] = body["value"]
    assert attr["LogicalName"] == column
    expected = shared_dv.app.schema["cdm_job"].attributes[column].options
    assert {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in attr["OptionSet"]["Options"]} == expected


def test_boolean_cast_uses_true_and_false_options(shared_dv):
    body = shared_dv.get("EntityDefinitions(LogicalName='cdm_job')/Attributes/"
                         "Microsoft.Dynamics.CRM.BooleanAttributeMetadata?$select=LogicalName&$expand=OptionSet").json()
    [attr] = body["value"]
    assert attr["LogicalName"] == "cdm_allowunlimitedpositions"
    assert attr["OptionSet"]["TrueOption"]["Value"] == 1 and attr["OptionSet"]["FalseOption"]["Value"] == 0
    assert attr["OptionSet"]["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"] == "Yes"


def test_unknown_logical_name_is_404(shared_dv):
    resp = shared_dv.get("EntityDefinitions(LogicalName='cdm_nope')?$select=LogicalName")
    assert resp.status_code == 404 and resp.headers["Content-Type"] == JSON
    assert resp.json() == {"error": {"code": "0x80041102", "message":
                           "The entity with a name = 'cdm_nope' with namemapping = 'Logical' was not found in the MetadataCache."}}


def test_unknown_metadata_property_and_cast_are_refused(shared_dv):
    resp = shared_dv.get("EntityDefinitions?$select=LogicalName,Nope")
    assert resp.status_code == 400
    assert resp.json()["error"] == {"code": "0x80060888", "message":
                                    "Could not find a property named 'Nope' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."}
    cast = shared_dv.get("EntityDefinitions(LogicalName='cdm_worker')/Attributes/Microsoft.Dynamics.CRM.NopeAttributeMetadata")
    assert cast.status_code == 404 and cast.json()["error"]["code"] == "0x80060888"
    top = shared_dv.get("EntityDefinitions?$top=1")
    assert top.status_code == 400 and top.json()["error"]["code"] == "0x80060888"


def test_enum_filters_use_the_namespace_prefix(shared_dv):
    body = shared_dv.get("EntityDefinitions?$select=LogicalName"
                         "&$filter=OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'OrganizationOwned'").json()
    assert {i["LogicalName"] for i in body["value"]} == {t.logical_name for t in shared_dv.app.schema.values()
                                                         if t.is_virtual}
    attrs = shared_dv.get("EntityDefinitions(LogicalName='cdm_worker')/Attributes?$select=LogicalName"
                          "&$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'").json()
    table = shared_dv.app.schema["cdm_worker"]
    assert {a["LogicalName"] for a in attrs["value"]} == {
        a.logical_name for a in table.attributes.values() if a.attribute_type == "Picklist"}
