"""Start an in-process emulator over real TLS (pytest fixtures and scripts use this)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import EmulatorConfig
from .server import EmulatorServer


class RunningEmulator:
    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.app = server.emulator
        self.info: dict[str, Any] = server.info


@contextmanager
def running_emulator(state_dir: Path, **overrides: Any) -> Iterator[RunningEmulator]:
    overrides.setdefault("scale", 40)
    config = EmulatorConfig(state_dir=state_dir, **overrides)
    server = EmulatorServer(config).start()
    try:
        yield RunningEmulator(server)
    finally:
        server.stop()
