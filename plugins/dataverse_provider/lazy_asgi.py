"""An ASGI app that builds the real (FastAPI) app on its first request.

UI plugins are loaded by every Airflow component; building a FastAPI app (and importing what its
pages need) at plugin-load time would slow them all. ``LazyApp(factory, label)`` defers that to the
first request and builds the app once, even under concurrent first requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LazyApp:
    def __init__(self, factory: Callable[[], Any], label: str) -> None:
        self._factory = factory
        self._label = label
        self._app: Any = None
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._factory()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:  # shown under Admin → Plugins
        return f"{self._label} (built on first request)"
