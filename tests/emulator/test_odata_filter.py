"""$filter parsing, typing, evaluation and Dataverse/ODataLib error texts."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dataverse_emulator.odata.errors import ODataError
from dataverse_emulator.odata.filter import DictResolver, FilterSettings, TableResolver, parse_filter
from dataverse_emulator.schema import AttributeDef, TableDef

ACME = "70bf4d48-34cb-ed11-b596-0022481d68cd"
FABRIKAM = "8a1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"


def _contact_table() -> TableDef:
    attrs = [
        AttributeDef("contactid", "Uniqueidentifier", is_primary_id=True),
        AttributeDef("lastname", "String"),
        AttributeDef("firstname", "String"),
        AttributeDef("numberofchildren", "Integer"),
        AttributeDef("creditlimit", "Money"),
        AttributeDef("donotemail", "Boolean"),
        AttributeDef("gendercode", "Picklist", options={1: "Male", 2: "Female"}),
        AttributeDef("statecode", "State", options={0: "Active", 1: "Inactive"}),
        AttributeDef("birthdate", "DateTime", date_only=True),
        AttributeDef("createdon", "DateTime"),
        AttributeDef("parentcustomerid", "Lookup", targets=("account",), navigation_property="parentcustomerid_account"),
    ]
    return TableDef(
        logical_name="contact", entity_set_name="contacts", primary_id="contactid", primary_name="lastname",
        attributes={a.logical_name: a for a in attrs}, object_type_code=2, change_tracking=True,
    )


CONTACTS = TableResolver(_contact_table())

ROWS = [
    {"contactid": "c1", "lastname": "O'Bryan", "firstname": "Anna", "numberofchildren": 2, "creditlimit": 1500.5,
     "donotemail": False, "gendercode": 2, "statecode": 0, "birthdate": "1990-05-01",
     "createdon": "2023-04-07T21:59:01Z", "parentcustomerid": ACME},
    {"contactid": "c2", "lastname": "Smith", "firstname": None, "numberofchildren": 0, "creditlimit": None,
     "donotemail": True, "gendercode": 1, "statecode": 1, "birthdate": date(1985, 12, 31),
     "createdon": datetime(2021, 1, 1, tzinfo=UTC), "parentcustomerid": FABRIKAM},
    {"contactid": "c3", "lastname": "smithson", "firstname": "Bo", "numberofchildren": None, "creditlimit": 99,
     "donotemail": None, "gendercode": None, "statecode": 0, "birthdate": None,
     # Same instant as 2022-06-01T10:00:00Z, held with an offset.
     "createdon": datetime(2022, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), "parentcustomerid": None},
]


def matches(text: str, aliases: dict[str, str] | None = None, settings: FilterSettings | None = None) -> list[str]:
    expr = parse_filter(text, CONTACTS, aliases, settings or FilterSettings())
    return [row["contactid"] for row in ROWS if expr.evaluate(row)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lastname eq 'smith'", ["c2"]),  # case-insensitive
        ("lastname eq 'O''Bryan'", ["c1"]),  # doubled quote
        ("lastname ne 'SMITH'", ["c1", "c3"]),
        ("lastname gt 'smith'", ["c3"]),
        ("firstname eq null", ["c2"]),
        ("firstname ne null", ["c1", "c3"]),
        ("null eq firstname", ["c2"]),
        ("numberofchildren ge 1", ["c1"]),  # null never satisfies an ordering comparison
        ("numberofchildren lt 1", ["c2"]),
        ("0 lt numberofchildren", ["c1"]),  # literal on the left
        ("creditlimit gt 100.25", ["c1"]),
        ("creditlimit le 99", ["c3"]),
        ("donotemail eq true", ["c2"]),
        ("donotemail eq false", ["c1"]),
        ("gendercode eq 2", ["c1"]),
        ("statecode eq 0 and gendercode ne 1", ["c1", "c3"]),
        ("statecode eq 1 or lastname eq 'smithson'", ["c2", "c3"]),
        ("not (statecode eq 0)", ["c2"]),
        ("statecode eq 0 and (lastname eq 'x' or firstname eq 'bo')", ["c3"]),
        ("statecode eq 0 and lastname eq 'x' or firstname eq 'bo'", ["c3"]),  # and binds tighter
        ("contains(lastname,'MITH')", ["c2", "c3"]),
        ("startswith(lastname, 'o''b')", ["c1"]),
        ("endswith(lastname,'SON')", ["c3"]),
        ("not contains(lastname,'smith')", ["c1"]),
        ("contains(firstname,'o')", ["c3"]),  # null column never contains anything
        ("contains(lastname,'smith') eq false", ["c1"]),
        (f"_parentcustomerid_value eq {ACME}", ["c1"]),
        (f"_parentcustomerid_value eq {ACME.upper()}", ["c1"]),
        (f"_parentcustomerid_value eq '{FABRIKAM}'", ["c2"]),  # quoted GUID: lenient by default
        ("_parentcustomerid_value eq null", ["c3"]),
        ("createdon ge 2022-01-01T00:00:00Z", ["c1", "c3"]),  # ISO text and datetime rows alike
        ("createdon eq 2022-06-01T10:00:00Z", ["c3"]),  # offsets compare by instant
        ("createdon eq 2022-06-01T12:00:00+02:00", ["c3"]),
        ("createdon lt 2021-01-01T00:00:00.5Z", ["c2"]),
        ("createdon lt 2022-01-01", ["c2"]),  # a date against a datetime column: midnight UTC
        ("birthdate eq 1990-05-01", ["c1"]),
        ("birthdate lt 1990-01-01", ["c2"]),  # date object row
        ("birthdate eq 1990-05-01T23:30:00Z", ["c1"]),  # date-only column compares the date part
        ("lastname eq @p1", ["c2"]),
        ("numberofchildren gt @n and statecode eq @s", ["c1"]),
        ("lastname eq @missing", []),  # an alias without a value is null (OData)
        ("contains(lastname, @p1)", ["c2", "c3"]),
        ("true", ["c1", "c2", "c3"]),
        ("  (( statecode  eq  1 ))  ", ["c2"]),
    ],
)
def test_filter_matches(text: str, expected: list[str]) -> None:
    assert matches(text, {"@p1": "'SMITH'", "@n": "1", "@s": "0", "$top": "5"}) == expected


def test_ne_null_semantics_is_a_setting() -> None:
    assert matches("firstname ne 'anna'") == ["c2", "c3"]
    assert matches("firstname ne 'anna'", settings=FilterSettings(ne_matches_null=False)) == ["c3"]


def test_quoted_guid_can_be_refused() -> None:
    with pytest.raises(ODataError) as err:
        matches(f"_parentcustomerid_value eq '{ACME}'", settings=FilterSettings(accept_quoted_guid=False))
    assert err.value.message == (
        "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and "
        "'Edm.String' for operator kind 'Equal'."
    )


def test_columns_lists_row_keys_read() -> None:
    expr = parse_filter(f"lastname eq 'x' or _parentcustomerid_value eq {ACME}", CONTACTS)
    assert expr.columns == {"lastname", "parentcustomerid"}


def _error(text: str, aliases: dict[str, str] | None = None) -> ODataError:
    with pytest.raises(ODataError) as err:
        parse_filter(text, CONTACTS, aliases)
    assert err.value.status == 400
    assert err.value.code == "0x80060888"
    return err.value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # The documented example, position and all (ODataLib reports the end of the text). [PA-FILTER]
        ("lastname eq 'O'Bryan'", "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."),
        ("lastname eq 'abc", "There is an unterminated string literal at position 16 in 'lastname eq 'abc'."),
        ("lastname eq 'it''s", "There is an unterminated string literal at position 18 in 'lastname eq 'it''s'."),
        ("nickname eq 'x'", "Could not find a property named 'nickname' on type 'Microsoft.Dynamics.CRM.contact'."),
        ("LastName eq 'x'", "Could not find a property named 'LastName' on type 'Microsoft.Dynamics.CRM.contact'."),
        # A lookup is filtered as _x_value; its logical name and the <x>name pseudo column are not properties.
        (f"parentcustomerid eq {ACME}",
         "Could not find a property named 'parentcustomerid' on type 'Microsoft.Dynamics.CRM.contact'."),
        ("parentcustomeridname eq 'Acme'",
         "Could not find a property named 'parentcustomeridname' on type 'Microsoft.Dynamics.CRM.contact'."),
        (f"_parentcustomerid_value eq guid'{ACME}'",
         f"Unrecognized 'Edm.String' literal 'guid'{ACME}'' at '27' in '_parentcustomerid_value eq guid'{ACME}''."),
        ("lastname eq", "Expression expected at position 11 in 'lastname eq'."),
        ("(statecode eq 0", "')' or operator expected at position 15 in '(statecode eq 0'."),
        ("statecode eq 0 statecode", "Syntax error at position 24 in 'statecode eq 0 statecode'."),
        ("contains(lastname 'x')", "')' or ',' expected at position 18 in 'contains(lastname 'x')'."),
        ("lastname eq 'a' ^", "Syntax error: character '^' is not valid at position 16 in 'lastname eq 'a' ^'."),
        ("numberofchildren eq 4.a", "A digit was expected at position 22 in 'numberofchildren eq 4.a'."),
        ("statecode eq '0'",
         "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and "
         "'Edm.String' for operator kind 'Equal'."),
        ("lastname gt 5",
         "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and "
         "'Edm.Int32' for operator kind 'GreaterThan'."),
        ("createdon ge '2021-01-01'",
         "A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' "
         "and 'Edm.String' for operator kind 'GreaterThanOrEqual'."),
        ("statecode eq 0 and lastname",
         "A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and "
         "'Edm.String' for operator kind 'And'."),
        # ODataLib precedence: not binds tighter than eq.
        ("not lastname eq 'x'",
         "A unary operator with an incompatible type was detected. Found operand type 'Edm.String' for "
         "operator kind 'Not'."),
        ("lastname", "The $filter expression must evaluate to a single boolean value."),
        ("contains(statecode,'1')",
         "No function signature for the function with name 'contains' matches the specified arguments. The "
         "function signatures considered are: contains(Edm.String Nullable=true, Edm.String Nullable=true)."),
        ("frobnicate(lastname)",
         "An unknown function with name 'frobnicate' was found. This may also be a function import or a key "
         "lookup on a navigation property, which is not allowed."),
        ("tolower(lastname) eq 'x'", "The function 'tolower' is not supported in $filter."),
        ("statecode add 1 eq 2", "The 'add' operator is not supported by the emulator's $filter."),
        ("createdon ge 2021-13-45T00:00:00Z",
         "Unrecognized 'Edm.DateTimeOffset' literal '2021-13-45T00:00:00Z' at '13' in "
         "'createdon ge 2021-13-45T00:00:00Z'."),
        ("statecode eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'",
         "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and "
         "'Microsoft.Dynamics.CRM.OwnershipTypes' for operator kind 'Equal'."),
        ("", "Expression expected at position 0 in ''."),
    ],
)
def test_filter_errors(text: str, message: str) -> None:
    assert _error(text).message == message


def test_alias_must_be_a_literal() -> None:
    err = _error("lastname eq @p1", {"@p1": "firstname"})
    assert err.message == "The value of parameter alias '@p1' must be a single literal, got 'firstname'."


def test_error_response_is_dataverse_shaped() -> None:
    response = _error("nickname eq 'x'").to_response()
    assert response.status == 400
    assert response.headers.get("OData-Version") == "4.0"
    assert response.headers.get("Content-Type", "").startswith("application/json")
    assert response.json_payload() == {
        "error": {
            "code": "0x80060888",
            "message": "Could not find a property named 'nickname' on type 'Microsoft.Dynamics.CRM.contact'.",
        }
    }


METADATA = DictResolver(
    {"LogicalName": "String", "ChangeTrackingEnabled": "Boolean", "OwnershipType": "Enum",
     "IsCustomizable/Value": "Boolean", "ObjectTypeCode": "Integer"},
    entity="EntityMetadata",
)
ENTITIES = [
    {"LogicalName": "account", "ChangeTrackingEnabled": True, "OwnershipType": "UserOwned",
     "IsCustomizable": {"Value": True}, "ObjectTypeCode": 1},
    {"LogicalName": "cdm_worker", "ChangeTrackingEnabled": False, "OwnershipType": "OrganizationOwned",
     "IsCustomizable": {"Value": False}, "ObjectTypeCode": 10014},
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LogicalName eq 'account'", ["account"]),
        ("ChangeTrackingEnabled eq true", ["account"]),
        ("OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'OrganizationOwned'", ["cdm_worker"]),
        ("IsCustomizable/Value eq false", ["cdm_worker"]),
        ("ObjectTypeCode gt 10000 or LogicalName eq 'account'", ["account", "cdm_worker"]),
    ],
)
def test_metadata_filter_over_dict_rows(text: str, expected: list[str]) -> None:
    expr = parse_filter(text, METADATA)
    assert [e["LogicalName"] for e in ENTITIES if expr.evaluate(e)] == expected


def test_metadata_unknown_property() -> None:
    with pytest.raises(ODataError) as err:
        parse_filter("SchemaName eq 'x'", METADATA)
    assert err.value.message == (
        "Could not find a property named 'SchemaName' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."
    )


def test_compiled_filter_is_fast() -> None:
    rows = [
        {"contactid": str(i), "lastname": f"Name{i}", "statecode": i % 2, "createdon": "2023-04-07T21:59:01Z",
         "parentcustomerid": ACME if i % 3 == 0 else None}
        for i in range(100_000)
    ]
    expr = parse_filter(
        f"statecode eq 0 and (contains(lastname,'99') or _parentcustomerid_value eq {ACME}) "
        "and createdon ge 2023-01-01T00:00:00Z",
        CONTACTS,
    )
    start = time.perf_counter()
    hits = sum(1 for row in rows if expr.evaluate(row))
    elapsed = time.perf_counter() - start
    expected = sum(
        1 for i in range(100_000) if i % 2 == 0 and ("99" in f"name{i}" or i % 3 == 0)
    )
    assert hits == expected
    assert elapsed < 1.0, f"100k evaluations took {elapsed:.2f}s"
