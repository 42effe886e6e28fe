"""What several emulator test modules share: the assertion on a Web API error response, a generated store."""

from __future__ import annotations

from typing import Any

from dataverse_emulator.clock import Clock
from dataverse_emulator.config import EmulatorConfig
from dataverse_emulator.datagen import generate
from dataverse_emulator.schema import build_schema
from dataverse_emulator.store import Store

JSON = "application/json; odata.metadata=minimal"


def dataverse_error(resp: Any, status: int, code: str, message: str | None = None) -> str:
    """Assert ``resp`` is Dataverse's error JSON (``{"error": {"code", "message"}}``, OData 4.0) with this
    status, code and (when given) message; returns the message."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == JSON
    assert resp.headers["OData-Version"] == "4.0"
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code
    if message is not None:
        assert body["error"]["message"] == message
    return body["error"]["message"]


def generated_store(config: EmulatorConfig) -> Store:
    """A store holding the data the emulator generates for ``config`` (no server)."""
    schema = build_schema(config)
    clock = Clock()
    store = Store(schema, clock, config)
    store.load(generate(config, schema, clock))
    return store
