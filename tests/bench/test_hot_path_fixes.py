"""The hot-path change the benchmark's profile led to keeps its results: SQLite timestamps are encoded
with ``isoformat`` instead of ``strftime`` (the loader's top self-time function)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hr_dataverse.warehouse.convert import CONVERTERS, SQLITE_ENCODERS


@pytest.mark.parametrize("wire", ["2024-05-06T07:08:09Z", "2024-05-06T07:08:09.123456Z", "2024-05-06T09:08:09+02:00",
                                  "0999-12-31T23:59:59Z"])
def test_sqlite_timestamps_are_utc_text_with_microseconds(wire: str) -> None:
    value = CONVERTERS["timestamp"](wire)
    encoded = SQLITE_ENCODERS["timestamp"](value)
    assert encoded == value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    assert datetime.fromisoformat(encoded).replace(tzinfo=UTC) == value
    assert len(encoded) == 26
