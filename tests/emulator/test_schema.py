"""Table definitions: names from the reference, system columns, wire names, option sets, settings."""

from __future__ import annotations

import pytest

from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.schema import (
    BIGINT,
    DATETIME,
    HR_TABLES,
    LOOKUP,
    PICKLIST,
    STATE,
    STATUS,
    UNIQUEIDENTIFIER,
    URS_TABLES,
    AttributeDef,
    build_schema,
    hr_tables,
)
from dataverse_emulator.schema_coverage import COVERAGE_TABLES


@pytest.fixture(scope="module")
def schema():
    return build_schema(EmulatorConfig())


def test_tables_and_documented_names(schema):
    assert list(schema) == HR_TABLES + URS_TABLES + list(COVERAGE_TABLES)
    documented = {  # logical name -> (entity set, primary key) confirmed in the reference
        "cdm_worker": ("cdm_workers", "cdm_workerid"),
        "cdm_company": ("cdm_companies", "cdm_companyid"),
        "cdm_jobposition": ("cdm_jobpositions", "cdm_jobpositionid"),
        "cdm_positionworkerassignmentmap": ("cdm_positionworkerassignmentmaps", "cdm_positionworkerassignmentmapid"),
        "mshr_hcmratinglevelentity": ("mshr_hcmratinglevelentities", "mshr_hcmratinglevelentityid"),
        "bookableresource": ("bookableresources", "bookableresourceid"),
        "bookableresourcecharacteristic": ("bookableresourcecharacteristics", "bookableresourcecharacteristicid"),
        "ratingvalue": ("ratingvalues", "ratingvalueid"),
    }
    for logical, (entity_set, pk) in documented.items():
        assert (schema[logical].entity_set_name, schema[logical].primary_id) == (entity_set, pk)
    for name in HR_TABLES[10:]:
        assert schema[name].is_virtual and schema[name].entity_set_name.endswith("entities")
    assert not any(schema[name].is_virtual for name in HR_TABLES[:10] + URS_TABLES)
    assert len({t.entity_set_name for t in schema.values()}) == len(schema)
    assert len({t.object_type_code for t in schema.values()}) == len(schema)


def test_every_table_has_system_columns_and_keys(schema):
    for table in schema.values():
        a = table.attributes
        assert a[table.primary_id].attribute_type == UNIQUEIDENTIFIER and a[table.primary_id].is_primary_id
        assert a[table.primary_name].is_primary_name
        assert a["statecode"].attribute_type == STATE and a["statecode"].options == {0: "Active", 1: "Inactive"}
        assert a["statuscode"].attribute_type == STATUS and a["statuscode"].options == {1: "Active", 2: "Inactive"}
        for col in ("createdon", "modifiedon"):
            assert a[col].attribute_type == DATETIME and a[col].read_only
        assert a["versionnumber"].attribute_type == BIGINT and a["versionnumber"].read_only
        for key in table.alternate_keys:
            assert set(key) <= set(a), (table.logical_name, key)


def test_option_sets_use_documented_values(schema):
    worker = schema["cdm_worker"].attributes
    assert worker["cdm_status"].options == {754400000: "Active", 754400001: "Inactive"}
    assert set(worker["cdm_gender"].options) == {754400000, 754400001, 754400002, 754400003}
    assert schema["mshr_hcmworkerskillentity"].attributes["mshr_leveltype"].options == {
        200000000: "Actual", 200000001: "Target"}
    assert schema["bookableresource"].attributes["resourcetype"].options[7] == "Facility"
    assert set(schema["bookableresource"].attributes["resourcetype"].options) == set(range(1, 9))
    assert schema["characteristic"].attributes["characteristictype"].options == {1: "Skill", 2: "Certification"}
    factor = schema["mshr_hcmratinglevelentity"].attributes["mshr_factor"]
    assert (factor.min_value, factor.max_value) == (0, 9)
    value = schema["ratingvalue"].attributes["value"]
    assert (value.min_value, value.max_value) == (-200, 200)
    for table in schema.values():
        for attr in table.attributes.values():
            if attr.attribute_type == PICKLIST:
                prefix = 754400000 if table.logical_name.startswith("cdm_") else (
                    200000000 if table.is_virtual else 0)
                assert all(prefix <= v < prefix + 100 for v in attr.options), attr.logical_name


def test_wire_names_and_navigation(schema):
    brc = schema["bookableresourcecharacteristic"]
    resource = brc.attributes["resource"]
    assert brc.wire_name(resource) == brc.wire_name("resource") == "_resource_value"
    assert brc.wire_name("name") == "name"
    assert brc.attribute_for_wire("_resource_value") is resource
    assert brc.attribute_for_wire("resource") is None  # Dataverse rejects the bare lookup name
    assert brc.attribute_for_wire("nope") is None
    assert brc.attribute_for_navigation("Resource") is resource
    assert brc.attribute_for_navigation("resource") is None  # navigation names are case-sensitive
    assert [a.navigation_property for a in brc.lookups()] == ["Resource", "Characteristic", "RatingValue"]
    assert schema["ratingvalue"].attributes["ratingmodel"].navigation_property == "RatingModel"
    assert schema["cdm_jobposition"].attributes["cdm_jobid"].navigation_property == "cdm_JobId"
    skill = schema["mshr_hcmworkerskillentity"]
    assert skill.attribute_for_wire("_mshr_fk_worker_id_value").targets == ("cdm_worker",)


def test_option_label(schema):
    worker = schema["cdm_worker"]
    assert worker.option_label("cdm_status", 754400001) == "Inactive"
    assert worker.option_label("cdm_status", 1) is None
    assert worker.option_label("cdm_firstname", "x") is None
    assert schema["cdm_job"].option_label("cdm_allowunlimitedpositions", True) == "Yes"
    assert schema["cdm_job"].option_label("cdm_allowunlimitedpositions", False) == "No"
    assert worker.option_label("statecode", None) is None


def test_lookups_resolve_and_parents_come_first(schema):
    order = {name: i for i, name in enumerate(HR_TABLES + URS_TABLES)}
    for table in schema.values():
        for attr in table.lookups():
            assert attr.attribute_type == LOOKUP and len(attr.targets) == 1 and attr.navigation_property
            target = attr.targets[0]
            if target in schema and target != table.logical_name and table.logical_name in HR_TABLES:
                assert order[target] < order[table.logical_name], (table.logical_name, target)


def test_secured_column_exists(schema):
    secured = [(t.logical_name, a.logical_name) for t in schema.values() for a in t.attributes.values() if a.secured]
    assert secured == [("cdm_workerpersonaldetail", "cdm_birthcity")]


def test_config_settings_are_honoured():
    config = EmulatorConfig(
        tables_without_change_tracking=("cdm_job",), hr_virtual_prefix="mserp_",
        bookableresource_worker_column="msdyn_worker", bookableresource_worker_navigation="msdyn_Worker",
    )
    schema = build_schema(config)
    assert list(schema) == hr_tables("mserp_") + URS_TABLES + list(COVERAGE_TABLES)
    assert not schema["cdm_job"].change_tracking and schema["cdm_workeraddress"].change_tracking
    level = schema["mserp_hcmratinglevelentity"]
    assert level.entity_set_name == "mserp_hcmratinglevelentities"
    assert "mserp_factor" in level.attributes and "mserp_fk_ratingmodelentity_id" in level.attributes
    worker_link = schema["bookableresource"].attribute_for_navigation("msdyn_Worker")
    assert worker_link.logical_name == "msdyn_worker" and worker_link.targets == ("cdm_worker",)
    assert schema["bookableresource"].attribute_for_wire("_msdyn_worker_value") is worker_link
    default = build_schema(EmulatorConfig())
    assert not default["cdm_workeraddress"].change_tracking and default["cdm_job"].change_tracking


def test_bulk_messages():
    schema = build_schema(EmulatorConfig())
    for name in URS_TABLES:
        assert {"CreateMultiple", "UpdateMultiple"} <= schema[name].bulk_messages
    assert "UpsertMultiple" in schema["bookableresourcecharacteristic"].bulk_messages
    assert "UpsertMultiple" not in schema["characteristic"].bulk_messages
    assert not any(schema[name].bulk_messages for name in HR_TABLES)
    config = EmulatorConfig()
    config.bookableresourcecharacteristic_upsert_multiple = False  # UNCONFIRMED support: a setting
    assert "UpsertMultiple" not in build_schema(config)["bookableresourcecharacteristic"].bulk_messages


def test_unknown_attribute_type_is_rejected():
    with pytest.raises(ValueError, match="unknown attribute type 'Text'"):
        AttributeDef("x", "Text")
