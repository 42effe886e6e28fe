"""OData literals and the $filter builder: values are quoted by type, names are validated."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hr_dataverse.dataverse import odata

GUID = "70BF4D48-34CB-4A2B-9B6F-6D0F7C4B1A2E"


def test_string_literal_doubles_quotes_so_values_cannot_escape() -> None:
    assert odata.string_literal("O'Bryan") == "'O''Bryan'"
    hostile = "x' or 1 eq 1 or name eq '"
    rendered = odata.eq("lastname", hostile).expr
    assert rendered == "lastname eq 'x'' or 1 eq 1 or name eq '''"
    # The literal is one balanced token: strip it and nothing of the value is left outside quotes.
    assert rendered.count("'") % 2 == 0


def test_guid_literal_is_unquoted_lower_case_and_validated() -> None:
    assert odata.guid_literal(GUID) == GUID.lower()
    assert odata.guid_literal(uuid.UUID(GUID)) == GUID.lower()
    for bad in ("guid'70bf4d48'", "70bf4d48-34cb-4a2b-9b6f", f"{GUID}' or 1 eq 1"):
        with pytest.raises(ValueError, match="not a GUID"):
            odata.guid_literal(bad)


def test_datetime_literal_is_utc_with_z() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert odata.datetime_literal(datetime(2024, 5, 1, 12, 0, 0, tzinfo=plus2)) == "2024-05-01T10:00:00Z"
    assert odata.datetime_literal(datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)) == "2024-05-01T10:00:00.250Z"
    with pytest.raises(ValueError, match="naive datetime"):
        odata.datetime_literal(datetime(2024, 5, 1))


def test_number_and_bool_literals_reject_the_wrong_types() -> None:
    assert odata.number_literal(754400000) == "754400000"
    assert odata.number_literal(1.5) == "1.5"
    assert odata.number_literal(Decimal("12.50")) == "12.50"
    assert odata.bool_literal(True) == "true"
    with pytest.raises(TypeError):
        odata.number_literal(True)
    with pytest.raises(TypeError):
        odata.number_literal("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        odata.number_literal(float("nan"))
    with pytest.raises(TypeError):
        odata.bool_literal(1)  # type: ignore[arg-type]


def test_filter_picks_literal_by_type_and_combines() -> None:
    f = odata.and_(
        odata.eq("statecode", 0),
        odata.or_(odata.eq("_cdm_workerid_value", uuid.UUID(GUID)), odata.eq("cdm_description", None)),
        odata.not_(odata.contains("cdm_name", "Smith & Sons")),
        odata.ge("modifiedon", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        odata.lt("cdm_birthdate", date(2000, 1, 1)),
        odata.ne("cdm_isactive", False),
    )
    assert str(f) == (
        "(statecode eq 0) and ((_cdm_workerid_value eq 70bf4d48-34cb-4a2b-9b6f-6d0f7c4b1a2e) or "
        "(cdm_description eq null)) and (not (contains(cdm_name,'Smith & Sons'))) and "
        "(modifiedon ge 2024-01-02T03:04:05Z) and (cdm_birthdate lt 2000-01-01) and (cdm_isactive ne false)"
    )
    assert odata.and_(odata.eq("a", 1)) == odata.eq("a", 1)


@pytest.mark.parametrize("name", ["", "1abc", "name eq 1 or x", "a/b", "a-b", "cdm_name)"])
def test_field_names_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match="invalid field name"):
        odata.eq(name, 1)


def test_unsupported_values_and_empty_combinations_are_refused() -> None:
    with pytest.raises(TypeError, match="no OData literal"):
        odata.eq("a", object())
    with pytest.raises(ValueError):
        odata.and_()
    with pytest.raises(TypeError):
        odata.or_("statecode eq 0")  # type: ignore[arg-type]


def test_select_and_orderby_clauses() -> None:
    assert odata.select_clause(["cdm_workerid", "cdm_firstname", "cdm_workerid"]) == "cdm_workerid,cdm_firstname"
    assert odata.orderby_clause(["modifiedon DESC", "cdm_workerid"]) == "modifiedon desc,cdm_workerid"
    assert odata.orderby_clause("a asc, b") == "a asc,b"
    with pytest.raises(TypeError):
        odata.select_clause("cdm_workerid")
    with pytest.raises(ValueError):
        odata.select_clause([])
    with pytest.raises(ValueError, match="invalid column name"):
        odata.select_clause(["ok", "bad,col"])
    with pytest.raises(ValueError, match=r"invalid \$orderby term"):
        odata.orderby_clause(["modifiedon sideways"])
