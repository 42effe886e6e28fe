"""$select / $orderby / $top / $count / $expand parsing and the unsupported-option checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.odata.errors import ODataError
from dataverse_emulator.odata.filter import TableResolver
from dataverse_emulator.odata.options import (
    ExpandSpec,
    OrderBy,
    check_supported,
    check_track_changes,
    parse_count,
    parse_expand,
    parse_orderby,
    parse_select,
    parse_top,
    sort_rows,
)
from dataverse_emulator.schema import AttributeDef, TableDef, build_schema


def _table(logical: str, attrs: list[AttributeDef]) -> TableDef:
    pk = AttributeDef(f"{logical}id", "Uniqueidentifier", is_primary_id=True)
    return TableDef(
        logical_name=logical, entity_set_name=f"{logical}s", primary_id=pk.logical_name, primary_name="cdm_name",
        attributes={a.logical_name: a for a in [pk, *attrs]}, object_type_code=10000, change_tracking=True,
    )


TABLES = {
    "cdm_job": _table("cdm_job", [AttributeDef("cdm_name", "String"), AttributeDef("cdm_description", "String")]),
    "cdm_jobposition": _table("cdm_jobposition", [
        AttributeDef("cdm_name", "String"),
        AttributeDef("cdm_fulltimeequivalent", "Decimal"),
        AttributeDef("cdm_validfrom", "DateTime"),
        AttributeDef("cdm_jobid", "Lookup", targets=("cdm_job",), navigation_property="cdm_JobId"),
        AttributeDef("cdm_ownerid", "Lookup", targets=("systemuser",), navigation_property="cdm_OwnerId"),
    ]),
}
POSITIONS = TableResolver(TABLES["cdm_jobposition"], TABLES)


def _raises(call, *args, **kwargs) -> ODataError:
    with pytest.raises(ODataError) as err:
        call(*args, **kwargs)
    assert err.value.status == 400
    assert err.value.code == "0x80060888"
    return err.value


def _unknown(name: str, entity: str = "cdm_jobposition") -> str:
    return f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'."


# --- $select -------------------------------------------------------------------------------------


def test_select_returns_wire_names_in_order_without_duplicates() -> None:
    assert parse_select("cdm_name, _cdm_jobid_value,cdm_name,cdm_jobpositionid", POSITIONS) == [
        "cdm_name", "_cdm_jobid_value", "cdm_jobpositionid",
    ]
    assert parse_select("", POSITIONS) == []


@pytest.mark.parametrize("name", ["cdm_jobid", "cdm_jobidname", "CDM_NAME", "cdm_JobId", "x"])
def test_select_unknown_names(name: str) -> None:
    assert _raises(parse_select, f"cdm_name,{name}", POSITIONS).message == _unknown(name)


def test_select_entity_override_and_syntax_errors() -> None:
    assert _raises(parse_select, "x", POSITIONS, "contact").message == _unknown("x", "contact")
    assert _raises(parse_select, "cdm_name,,cdm_validfrom", POSITIONS).message == (
        "Syntax error at position 9 in 'cdm_name,,cdm_validfrom'."
    )
    assert "omit $select" in _raises(parse_select, "*", POSITIONS).message


def test_select_against_the_real_schema() -> None:
    schema = build_schema(EmulatorConfig())
    workers = TableResolver(schema["cdm_employment"], schema)
    assert parse_select("_cdm_workerid_value,cdm_employmentstartdate", workers) == [
        "_cdm_workerid_value", "cdm_employmentstartdate",
    ]
    assert _raises(parse_select, "cdm_workerid", workers).message == _unknown("cdm_workerid", "cdm_employment")


# --- $orderby ------------------------------------------------------------------------------------


def test_orderby_parses_directions_and_aliases() -> None:
    parsed = parse_orderby("cdm_name asc, cdm_fulltimeequivalent desc,_cdm_jobid_value,@p1 desc", POSITIONS,
                           {"@p1": "cdm_validfrom"})
    assert parsed == [
        OrderBy("cdm_name", False), OrderBy("cdm_fulltimeequivalent", True),
        OrderBy("cdm_jobid", False), OrderBy("cdm_validfrom", True),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cdm_name up", "Syntax error at position 9 in 'cdm_name up'."),
        ("cdm_name asc desc", "Syntax error at position 13 in 'cdm_name asc desc'."),
        ("cdm_name,", "Syntax error at position 9 in 'cdm_name,'."),
        ("cdm_jobid desc", _unknown("cdm_jobid")),
        ("@p9", "The parameter alias '@p9' used in $orderby has no value."),
    ],
)
def test_orderby_errors(text: str, message: str) -> None:
    assert _raises(parse_orderby, text, POSITIONS).message == message


def test_sort_rows_like_sql_server() -> None:
    rows = [
        {"id": "4", "name": "beta", "fte": None, "at": "2023-01-02T00:00:00Z"},
        {"id": "1", "name": "Alpha", "fte": 1.0, "at": datetime(2023, 1, 3, tzinfo=UTC)},
        {"id": "3", "name": None, "fte": 0.5, "at": None},
        {"id": "2", "name": "alpha", "fte": 1.0, "at": "2023-01-01T00:00:00Z"},
    ]
    ids = lambda order: [r["id"] for r in sort_rows(rows, order, "id")]  # noqa: E731
    assert ids([OrderBy("name", False)]) == ["3", "1", "2", "4"]  # null first; case-insensitive; id tie-break
    assert ids([OrderBy("name", True)]) == ["4", "1", "2", "3"]  # null last descending; tie-break stays stable
    assert ids([OrderBy("fte", True), OrderBy("name", False)]) == ["1", "2", "3", "4"]
    assert ids([OrderBy("at", False)]) == ["3", "2", "4", "1"]  # ISO text and datetime compare as instants
    assert ids([]) == ["1", "2", "3", "4"]  # primary key order by default


# --- $top / $count -------------------------------------------------------------------------------


def test_top() -> None:
    assert parse_top("25") == 25
    assert parse_top("5000") == 5000


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "1.5", "2147483648"])
def test_top_rejects(value: str) -> None:
    assert _raises(parse_top, value).message == (
        f"Invalid value '{value}' for $top query option found. "
        "The $top query option requires a positive integer value."
    )


def test_count() -> None:
    assert parse_count("true") is True
    assert parse_count("false") is False
    assert _raises(parse_count, "yes").message == "'yes' is not a valid count option."


# --- $expand -------------------------------------------------------------------------------------


def test_expand_with_nested_select() -> None:
    assert parse_expand("cdm_JobId($select=cdm_name,cdm_description),cdm_OwnerId", POSITIONS) == [
        ExpandSpec("cdm_JobId", ["cdm_name", "cdm_description"], "cdm_jobid", "cdm_job"),
        ExpandSpec("cdm_OwnerId", [], "cdm_ownerid", "systemuser"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cdm_jobid", _unknown("cdm_jobid")),  # navigation names are case-sensitive
        ("cdm_JobId($select=cdm_nope)", _unknown("cdm_nope", "cdm_job")),
        ("cdm_JobId($filter=cdm_name eq 'x')",
         "The query option '$filter' inside $expand=cdm_JobId is not supported by the emulator; only $select is."),
        ("cdm_OwnerId($select=fullname)",
         "The emulator does not hold table 'systemuser', so $expand=cdm_OwnerId cannot take a nested $select."),
        ("cdm_JobId junk", "Syntax error at position 9 in 'cdm_JobId junk'."),
    ],
)
def test_expand_errors(text: str, message: str) -> None:
    assert _raises(parse_expand, text, POSITIONS).message == message


# --- unsupported options -------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["$skip", "$search", "$format"])
def test_unsupported_options(option: str) -> None:
    err = _raises(check_supported, {"$select": "cdm_name", option: "1"})
    assert err.message == f"The query parameter {option} is not supported"
    response = err.to_response()
    assert response.status == 400
    assert response.json_payload() == {"error": {"code": "0x80060888", "message": err.message}}


def test_supported_options_pass() -> None:
    check_supported({"$select": "a", "$filter": "b", "$top": "1", "$count": "true", "@p1": "'x'"})


@pytest.mark.parametrize("option", ["$filter", "$orderby", "$expand", "$top"])
def test_track_changes_refuses_one_option_per_message(option: str) -> None:
    err = _raises(check_track_changes, {"$select": "cdm_name", option: "x"})
    assert err.message == f'The "{option}" query parameter isn\'t supported when Change Tracking is enabled.'


def test_track_changes_names_the_first_refused_option_and_allows_select() -> None:
    err = _raises(check_track_changes, {"$top": "5", "$filter": "x"})
    assert err.message == 'The "$filter" query parameter isn\'t supported when Change Tracking is enabled.'
    check_track_changes({"$select": "cdm_name", "$count": "true"})
