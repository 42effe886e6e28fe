"""Fixtures for the sync-history page: a warehouse with a real history and the page app on a port."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve_app() -> Iterator[Any]:
    """``serve_app(app, prefix)`` → base URL of ``app`` mounted at ``prefix`` on a real uvicorn server."""
    import uvicorn
    from fastapi import FastAPI

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(app: Any, prefix: str) -> str:
        parent = FastAPI()
        parent.mount(prefix, app)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(parent, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
